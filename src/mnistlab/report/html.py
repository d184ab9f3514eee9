"""A report's HTML page: one self-contained file (figures inlined), the same content as the LaTeX document."""
from __future__ import annotations

import base64
from pathlib import Path

from mnistlab.i18n import t
from mnistlab.names import html_text


def setting_text(value) -> str:
    """A config value as a table cell: lists joined, empty values as a dash."""
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return str(value) if value not in ("", None) else "–"


def _html_answer(a: dict) -> str:
    e = html_text
    rows = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in a["rows"])
    return (f"<h3>{e(a['title'])}</h3><table><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in a['header'])}</tr>"
            f"</thead><tbody>{rows}</tbody></table><p>{e(' '.join(a['notes']))}</p>")


def html_page(content: dict, out: Path, lang: str) -> str:
    e = html_text
    rows = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in content["rows"])
    figs = []
    for stem, caption in content["figures"]:
        data = base64.b64encode((out / "figures" / f"{stem}.png").read_bytes()).decode()
        figs.append(f'<figure><img alt="{e(stem)}" src="data:image/png;base64,{data}"><figcaption>{e(caption)}'
                    "</figcaption></figure>")
    partial = f'<p class="partial">{e(content["partial"])}</p>' if content["partial"] else ""
    settings = "".join(f"<tr><td>{e(k)}</td><td>{e(setting_text(v))}</td></tr>" for k, v in content["config"].items())
    return f"""<!DOCTYPE html>
<html lang="{'pt-BR' if lang == 'pt' else 'en'}"><head><meta charset="utf-8">
<title>{e(content['heading'])}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}th,td{{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:right}}
th{{border-bottom:2px solid #333}}figure{{margin:1.5em 0}}img{{max-width:100%}}.partial{{background:#fee;padding:1em;
border:2px solid #c00;font-weight:bold}}code{{font-size:.85em}}</style></head><body>
<h1>{e(content['heading'])}</h1><p><em>mnistlab — {e(content['title'])}</em></p>{partial}
<h2>{e(t('sec_config', lang))}</h2><table class="settings"><thead><tr><th>{e(t('setting', lang))}</th>
<th>{e(t('value', lang))}</th></tr></thead><tbody>{settings}</tbody></table>
<h2>{e(t('sec_results', lang))}</h2><table><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in content['header'])}</tr>
</thead><tbody>{rows}</tbody></table>
<h2>{e(t('sec_findings', lang))}</h2>{''.join(_html_answer(a) for a in content.get('answers', []))}
{''.join(f'<p>{e(f)}</p>' for f in content['findings'])}
<h2>{e(t('sec_figures', lang))}</h2>{''.join(figs)}
</body></html>
"""
