"""Attacks that try to elicit an unlearned capability: relearning (finetuning on forget data)."""
