"""Document processing for the local lm-eval tasks in this folder (referenced by `!function utils.*`)."""

import re


def _clean(text: str) -> str:
    # Brackets and " [title]" are artifacts of HellaSwag's WikiHow part (as in lm-eval's own hellaswag task).
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def process_hellaswag(dataset):
    def _doc(doc):
        return {
            "query": _clean(doc["activity_label"] + ": " + doc["ctx"]),
            "choices": [_clean(ending) for ending in doc["endings"]],
            "gold": int(doc["label"]),
        }

    return dataset.map(_doc)
