"""The donut: the logo at the top of ``jellyml -h``, and the spinning one behind ``jellyml donut``.

Pure functions returning text; ``render`` prints them. The spinning donut is the classic
donut.c (Andy Sloane, 2006) in a few lines of Python: one frame takes about a millisecond.
"""

from __future__ import annotations

# The logo, symmetric about its middle column. Inside the ``{ }`` pairs is frosting (the braces
# print as spaces), where ``*~'`` are sprinkles; ``render`` colours it all.
LOGO_ART = (
    "      _.-{~~~~~}-._",
    "    .'{ * ~ ' ~ * }'.",
    "  /{ ~ ' }.---.{ ' ~ }\\",
    " |{ * ~ }(     ){ ~ * }|",
    "  \\{ ' ~ }'---'{ ~ ' }/",
    "    '.{ ~ * ' * ~ }.'",
    "      `-._______.-'",
)
LOGO_TEXT = ("", "", "JellyML {version}", "your code, baked into every checkpoint", "", "", "")
#: The logo's width: the words beside it start at the same column on every row.
LOGO_WIDTH = max(len(art) for art in LOGO_ART)


def plain_logo(version: str) -> str:
    """The logo as plain text (output that is not a terminal): what ``render`` colours."""
    rows = []
    for art, words in zip(LOGO_ART, LOGO_TEXT):
        row = art.replace("{", " ").replace("}", " ")
        rows.append(f"{row:<{LOGO_WIDTH}}   {words.format(version=version)}" if words else row)
    return "\n".join(rows).rstrip()


WIDTH, HEIGHT = 60, 22
_SHADES = ".,-~:;=!*#$@"


def frame(a: float, b: float) -> str:
    """One frame of a torus rotated by ``a`` (around x) and ``b`` (around z), as text."""
    import math  # only for the easter egg: the logo is text

    out = [" "] * (WIDTH * HEIGHT)
    depth = [0.0] * (WIDTH * HEIGHT)
    sin_a, cos_a, sin_b, cos_b = math.sin(a), math.cos(a), math.sin(b), math.cos(b)
    for j in range(0, 628, 7):  # around the tube
        ct, st = math.cos(j / 100), math.sin(j / 100)
        for i in range(0, 628, 2):  # around the hole
            sp, cp = math.sin(i / 100), math.cos(i / 100)
            h = ct + 2
            inv_z = 1 / (sp * h * sin_a + st * cos_a + 5)
            t = sp * h * cos_a - st * sin_a
            x = int(WIDTH / 2 + 30 * inv_z * (cp * h * cos_b - t * sin_b))
            y = int(HEIGHT / 2 + 15 * inv_z * (cp * h * sin_b + t * cos_b))
            lum = (st * sin_a - sp * ct * cos_a) * cos_b - sp * ct * sin_a - st * cos_a
            lum -= cp * ct * sin_b
            pos = x + WIDTH * y
            if 0 <= y < HEIGHT and 0 <= x < WIDTH and inv_z > depth[pos]:
                depth[pos] = inv_z
                out[pos] = _SHADES[max(0, int(8 * lum))]
    rows = ("".join(out[r * WIDTH : (r + 1) * WIDTH]).rstrip() for r in range(HEIGHT))
    return "\n".join(rows)


def frames(count: int) -> list[str]:
    return [frame(1.0 + 0.07 * k, 1.0 + 0.03 * k) for k in range(count)]
