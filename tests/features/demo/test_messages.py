"""Message templates: only the keyword sentences carry the spec's keywords."""

from __future__ import annotations

from features.demo.messages import DETAILS, KEYWORD_PHRASES, OPENERS, SIGNOFFS
from features.spec import load_spec


def test_message_templates_carry_exactly_their_keywords() -> None:
    message = next(f for f in load_spec("demo").features if f.column == "message")
    keywords = message.keywords or {}
    assert set(keywords) == {"urgent", "price", "tender", "job"}

    def flags(text: str) -> set[str]:
        lower = text.lower()
        return {flag for flag, words in keywords.items() if any(w in lower for w in words)}

    for language, phrases in KEYWORD_PHRASES.items():
        for flag, sentences in phrases.items():
            for sentence in sentences:
                assert flags(sentence) == {flag}, (language, sentence)
    neutral = [
        *(s for groups in OPENERS.values() for texts in groups.values() for s in texts),
        *(s for texts in DETAILS.values() for s in texts),
        *(s for texts in SIGNOFFS.values() for s in texts),
    ]
    assert [s for s in neutral if flags(s)] == []
