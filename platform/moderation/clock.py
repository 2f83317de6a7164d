"""Video times as people read them (reasons, the item page, the annotated video)."""


def clock(seconds: float) -> str:
    """m:ss.s, or h:mm:ss.s past an hour."""
    minutes, tenths = divmod(round(seconds * 10), 600)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{tenths / 10:04.1f}"
    return f"{minutes}:{tenths / 10:04.1f}"
