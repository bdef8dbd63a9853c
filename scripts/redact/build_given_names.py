"""Rebuild journalist_interface/workstation/data/redact/given_names.txt.

Input: ``given_names.src`` beside this script (names written by hand from
public knowledge of common Azerbaijani and Russian given names, in Latin
and Cyrillic script). A name is marked ambiguous (``*``) when its lower-case
form is also an ordinary word in one of the licensed word lists of
``/work/shared/data/words`` (AzeLexicon headwords, MIT; the EFF large word
list, CC BY 3.0 US; the Russian word list of python-mnemonic, MIT) or in
:data:`ALSO_WORDS` (checked by hand). The check trusts an ambiguous name
only in the middle of a sentence (where its capital letter means something).

Usage: python scripts/redact/build_given_names.py /work/shared/data/words
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE.parents[1] / "journalist_interface/workstation/data/redact/given_names.txt"
ALSO_WORDS = {"вера", "любовь", "надежда", "роман", "роза", "нур", "арзу", "pari", "rena"}
HEADER = """\
# Common Azerbaijani and Russian given names (Latin and Cyrillic script), for
# the redaction check (journalist_interface/workstation/redact.py).
# Made by scripts/redact/build_given_names.py from scripts/redact/given_names.src,
# a list written by hand from public knowledge of common given names (names are
# facts; no name list was copied). A trailing ' *' marks a name that is also an
# ordinary word: its lower-case form is an AzeLexicon headword (MIT), in the EFF
# large word list (CC BY 3.0 US) or the Russian word list of python-mnemonic (MIT),
# or was marked by hand. The check trusts such a name only inside a sentence or
# beside a surname or a title. One name a line."""
LISTS = (
    "az_words_AzeLexicon_86k.txt",
    "en_eff_large_7776.txt",
    "ru_bip39_python-mnemonic_2048.txt",
)


def az_lower(word: str) -> str:
    return word.replace("I", "ı").replace("İ", "i").lower()


def main(words_dir: Path) -> None:
    common: set[str] = set(ALSO_WORDS)
    for name in LISTS:
        for line in (words_dir / name).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts:
                common.add(az_lower(parts[-1] if name.startswith("en_eff") else parts[0]))
    names: dict[str, bool] = {}
    for line in (HERE / "given_names.src").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        for name in line.split():
            names[name] = az_lower(name) in common
    out = [line.rstrip() for line in HEADER.splitlines()]
    for name in sorted(names, key=az_lower):
        out.append(name + (" *" if names[name] else ""))
    OUT.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(names)} names, {sum(names.values())} ambiguous -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
