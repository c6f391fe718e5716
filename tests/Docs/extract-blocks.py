"""Writes each ```dfs block of a Markdown file to OUTDIR/block-N.dfs."""
import re
import sys

text = open(sys.argv[1]).read()
for i, block in enumerate(re.findall(r"```dfs\n(.*?)```", text, re.S)):
    with open(f"{sys.argv[2]}/block-{i}.dfs", "w") as f:
        f.write(block)
