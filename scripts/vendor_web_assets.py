#!/usr/bin/env python
"""Vendor the web assets GX's Data Docs load (cvw.gate.offline.ASSETS: pinned npm packages) into
`<venv>/share/cvw-web`, so the Data Docs open offline. Run by `make install`; does nothing when every file is
there. Uses `npm pack` (the npm registry, like pip uses PyPI; npm verifies each tarball's integrity) and
takes only the listed files out of each tarball."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

from cvw.gate.offline import ASSETS, assets_dir, vendored_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=assets_dir(), help="target folder (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="fetch again even when every file is there")
    args = p.parse_args(argv)
    out: Path = args.out
    todo = [a for a in ASSETS if args.force or not (out / vendored_path(a)).exists()]
    if not todo:
        return 0
    npm = shutil.which("npm")
    if not npm:
        print("vendor_web_assets: npm is needed to vendor the Data Docs' web assets (apt-get install -y npm)",
              file=sys.stderr)
        return 1
    by_package = defaultdict(list)
    for a in todo:
        by_package[(a.package, a.version)].append(a)
    with tempfile.TemporaryDirectory() as tmp:
        for (package, version), assets in sorted(by_package.items()):
            spec = f"{package}@{version}"
            done = subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--silent"], check=True,
                                  capture_output=True, text=True)
            tarball = Path(tmp) / done.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                for asset in assets:
                    inner = f"package/{asset.path}"
                    members = [m for m in tar.getmembers() if m.isfile() and (
                        m.name == inner or (asset.path.endswith("/") and m.name.startswith(inner)))]
                    if not members:
                        raise SystemExit(f"vendor_web_assets: {inner} is not in {spec}")
                    for m in members:
                        dst = out / f"{spec}/{m.name.removeprefix('package/')}"
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        part = dst.with_name(dst.name + ".part")
                        with tar.extractfile(m) as src, open(part, "wb") as f:
                            shutil.copyfileobj(src, f)
                        part.replace(dst)
            print(f"vendored {spec}: {', '.join(a.path for a in assets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
