"""Question-answer pairs as token ids (undo.data.qa): the answer tokens trained on are the tokens scored."""

import pytest

from undo.config import ConfigError, build
from undo.data.qa import PromptFormat, encode_pair, pad_pair, prompt_text


def test_plain_pair_is_bos_prompt_then_answer_then_eos(byte_tok):
    fmt = PromptFormat()
    prompt, answer = encode_pair(byte_tok, fmt, "Who wrote it?", "Ana Lee.")
    assert prompt[0] == byte_tok.bos_token_id and answer[-1] == byte_tok.eos_token_id
    assert byte_tok.decode(prompt[1:]) == "Question: Who wrote it?\nAnswer:"
    assert byte_tok.decode(answer[:-1]) == " Ana Lee."


def test_pad_pair_marks_exactly_the_answer_and_cuts_only_its_tail():
    ids, mask, cut = pad_pair([2, 10, 11], [20, 21, 1], seq_len=8, pad_id=0)
    assert ids.tolist() == [2, 10, 11, 20, 21, 1, 0, 0]
    assert mask.tolist() == [0, 0, 0, 1, 1, 1, 0, 0] and not cut
    ids, mask, cut = pad_pair([2, 10, 11], [20, 21, 1], seq_len=5, pad_id=0)
    assert ids.tolist() == [2, 10, 11, 20, 21] and mask.tolist() == [0, 0, 0, 1, 1] and cut
    with pytest.raises(ValueError, match="seq_len: a 3-token prompt"):
        pad_pair([2, 10, 11], [20], seq_len=3, pad_id=0)


def test_chat_style_uses_the_tokenizers_template_and_refuses_a_tokenizer_without_one(byte_tok):
    with pytest.raises(ValueError, match="style: chat needs a tokenizer with a chat template"):
        prompt_text(byte_tok, PromptFormat(style="chat"), "Q?")
    byte_tok.chat_template = ("{% for m in messages %}<u>{{ m['content'] }}</u>{% endfor %}"
                              "{% if add_generation_prompt %}<m>{% endif %}")
    fmt = PromptFormat(style="chat")
    assert prompt_text(byte_tok, fmt, "Q?") == "<u>Q?</u><m>"
    prompt, answer = encode_pair(byte_tok, fmt, "Q?", "A.")
    assert byte_tok.decode(prompt) == "<u>Q?</u><m>"   # the template's own text, no BOS added
    assert byte_tok.decode(answer) == "A."               # the byte tokenizer has no <end_of_turn> to close the turn


def test_templates_must_hold_their_placeholders():
    with pytest.raises(ConfigError, match="question_template: must contain"):
        build(PromptFormat, {"question_template": "Q:"}, file="p.yaml")
