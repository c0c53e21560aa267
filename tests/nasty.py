"""One shared corpus of nasty inputs: what 30 students paste into a text box in one lesson."""

from __future__ import annotations

NASTY: dict[str, str] = {
    "empty": "",
    "whitespace": "   \n\t \n  \u00a0\u2003",
    "20,000 characters": ("The quick brown fox jumps over the lazy dog. " * 445)[:20_000],
    "one 10,000-character word": "a" * 10_000,
    "emoji and ZWJ": "I love 🤖 and 🧠🔥 👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽",
    "CJK": "我爱自然语言处理。日本語のテキスト。한국어 문장입니다",
    "Arabic and Hebrew": "مرحبا بالعالم\nשלום עולם",
    "combining marks": "Z̴̡͉̜͓̈́̂a̷͖̓l̵̢̛g̶̗̀o̵̟͝ e\u0301 n\u0303 ﷽",
    "control characters": "bell\x07 escape\x1b[31m red\x1b[0m null\x00 end\x7f tab\there\rcr",
    "script and HTML": '<script>alert("x")</script> <img src=x onerror=alert(1)> <b>bold</b>',
    "markdown": "# Heading **bold** [link](http://example.com) ![img](http://e/x.png) `code` | t |",
    "LaTeX": r"$\frac{a}{b}$ and $$\sum_i x_i$$ \(x\) \begin{align}x\end{align}",
    "template and format strings": "{0} {name} %s %d {{x}} ${HOME} {{7*7}} <%= 1 %> \\N{BULLET}",
    "special tokens": "[PAD] [CLS] [SEP] [MASK] [UNK] <s> </s> <|endoftext|>",
    "many lines": "\n".join(f"line {i}" for i in range(40)),
    # a lone surrogate (half an emoji) cannot cross the wire: the browser sends U+FFFD instead
    # (the tokenizer's own tests feed it the surrogate itself)
    "replacement character": "half an emoji \ufffd here",
}
