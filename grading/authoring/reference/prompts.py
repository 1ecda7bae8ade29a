"""Reference solution of TODO 2-1: one prompt per view (identity, then rotation by 180 degrees)."""

STYLE = "an oil painting of"
PROMPTS = [f"{STYLE} a snowy mountain village", f"{STYLE} a horse"]
