"""Regenerate the data set manifests from a local copy of the data: `python -m data_manifests._build --data DIR`.

File names and checksums come from the files themselves; where each file comes from, from the provenance tables
next to them (MANIFEST.csv, msrs/PROVENANCE*.csv). Stops on any file it cannot name or source.
"""

import argparse
import csv
import hashlib
import re
import sys
from pathlib import Path
from urllib.parse import quote

OUT = Path(__file__).resolve().parent
TNO_CITATION = "Toet, A. TNO Image Fusion Dataset. figshare, 2014. doi:10.6084/m9.figshare.1008029"
TNO_HOME = "https://doi.org/10.6084/m9.figshare.1008029"
MSRS_CITATION = (
    "Tang, L., Yuan, J., Zhang, H., Jiang, X., Ma, J. PIAFusion: A progressive infrared and visible image fusion "
    "network based on illumination aware. Information Fusion 83-84 (2022) 79-92"
)
ROADSCENE_CITATION = (
    "Xu, H., Ma, J., Le, Z., Jiang, J., Guo, X. FusionDN: A Unified Densely Connected Network for Image Fusion. "
    "AAAI 2020; Xu, H., Ma, J., Jiang, J., Guo, X., Ling, H. U2Fusion: A Unified Unsupervised Image Fusion Network. "
    "IEEE TPAMI 44(1) (2022) 502-518"
)


def fail(msg: str) -> None:
    sys.exit(f"_build: {msg}")


def raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(path)}"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Provenance:
    """MANIFEST.csv rows by folder, and the one snapshot commit of each repository it names."""

    def __init__(self, data: Path):
        # not quite CSV: paths like ".../{ir,vi}" hold unquoted commas, so split only on commas outside braces
        lines = (data / "MANIFEST.csv").read_text(encoding="utf-8").splitlines()
        header, *body = (re.split(r",(?![^{]*\})", line) for line in lines if line)
        self.rows = {r[0]: dict(zip(header, r, strict=True)) for r in body}
        seen: dict[str, set[str]] = {}
        for r in self.rows.values():
            # "A; B" sources with "c1 / c2" commits pair up; a parenthesised remark is not a source
            repos = [re.sub(r"\(.*?\)", "", s).strip() for s in r["source_repo"].split(";")]
            shas = [s.strip() for s in r["snapshot_commit"].split("/")]
            if len(shas) == 1:
                shas *= len(repos)
            if len(shas) != len(repos):
                fail(f"MANIFEST.csv row {r['folder']}: {len(repos)} repositories, {len(shas)} commits")
            for repo, sha in zip(repos, shas):
                seen.setdefault(repo, set()).add(sha)
        self.commits = {}
        for repo, shas in seen.items():
            # short commits elsewhere in the table abbreviate the full one
            full = {s for s in shas if len(s) == 40}
            if len(full) != 1 or not all(next(iter(full)).startswith(s) for s in shas):
                fail(f"MANIFEST.csv: no single full commit for {repo}: {sorted(shas)}")
            self.commits[repo] = full.pop()

    def commit(self, repo: str) -> str:
        if repo not in self.commits:
            print(f"warning: no commit known for {repo}; using branch 'main'", file=sys.stderr)
        return self.commits.get(repo, "main")

    def source(self, folder: str) -> tuple[str, str, str]:
        """(repository, commit, source_path) of a MANIFEST.csv row."""
        r = self.rows[folder]
        return r["source_repo"], self.commit(r["source_repo"]), r["source_path"]


def folders(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.is_dir())


def folder_source(prefix: str, repo: str, sha: str, path: str) -> dict[str, str]:
    return {"prefix": prefix, "url": raw(repo, sha, path.rstrip("/") + "/")}


def result(method: str, pattern: str, repo: str, sha: str, path: str) -> dict[str, str]:
    return {"dir": f"fused/{method}", "pattern": pattern, "source": f"{repo} @ {sha[:7]}, {path}"}


def plain_pairs(d: Path, ext: str, key=str) -> list[dict[str, str]]:
    """Pairs named by file stem, ir/<stem><ext> + vi/<stem><ext>, sorted by key(stem)."""
    names = sorted((p.stem for p in (d / "ir").glob(f"*{ext}")), key=key)
    return [{"name": n, "ir": f"ir/{n}{ext}", "vi": f"vi/{n}{ext}"} for n in names]


def tno42(data: Path, prov: Provenance) -> dict:
    d = data / "tno42"
    repo, sha, path = prov.source("tno42/ir+vi")
    _, _, fused_path = prov.source("tno42/fused/<9 methods>")
    sources = [folder_source(f"{m}/", repo, sha, path.replace("{ir,vi}", m)) for m in ("ir", "vi")]
    results = {}
    for m in folders(d / "fused"):
        sources.append(folder_source(f"fused/{m}/", repo, sha, fused_path.replace("<M>", m)))
        results[m] = result(m, "{pair}.png", repo, sha, fused_path.replace("<M>", m))
    return {
        "name": "tno42",
        "title": "TNO Image Fusion Dataset, 42-pair test set",
        "description": (
            "42 infrared-visible pairs of the TNO Image Fusion Dataset, named 01..42, as collected in Linfeng Tang's "
            f"Image-Fusion evaluation kit, with the fused results of {len(results)} methods published there. "
            "Both modalities are grey images stored as 3-channel PNG (channels equal), in 17 sizes from 256x256 to "
            "945x709; the fused results are 1-channel PNG (SeAFusion's 3-channel). "
            f"These copies come from {repo} at {sha[:7]} ({path}, and Algorithm/<M>_TNO for the results)."
        ),
        "citation": TNO_CITATION,
        "licence": (
            "No licence file in the source repository (Linfeng-Tang/Image-Fusion); the TNO images are from "
            "Toet's TNO Image Fusion Dataset on figshare, see its terms there."
        ),
        "homepage": TNO_HOME,
        "directory": "tno42",
        "pairs": plain_pairs(d, ".png"),
        "sources": sources,
        "results": results,
    }


# Official results of the 21 pairs kept outside tno21/, in the data root's zoo/ folder (a sample of the published
# set): method -> (results folder relative to tno21/, file name pattern).
TNO21_ZOO = {"LRRNet": ("../zoo/lrrnet_tno21/fused/LRRNet", "result_lrrnet_{ir}.png")}
LRRNET_CITATION = (
    "Li, H., Xu, T., Wu, X.-J., Lu, J., Kittler, J. LRRNet: A Novel Representation Learning Guided Fusion Framework "
    "for Infrared and Visible Images. IEEE TPAMI 45(9) (2023) 11040-11052"
)


def tno21(data: Path, prov: Provenance) -> dict:
    d = data / "tno21"
    hli = "hli1221/imagefusion_deeplearning"
    if hli in prov.commits:  # Hui Li's own copy, all 42 files in one IV_images/ folder
        repo, sha = hli, prov.commits[hli]
        ir_path = vi_path = "IV_images"
    else:
        repo, sha, path = prov.source("tno21/ir+vi")
        ir_path, vi_path = path.replace("{IR,VIS}", "IR"), path.replace("{IR,VIS}", "VIS")
    nums = sorted(int(re.fullmatch(r"IR(\d+)\.png", p.name)[1]) for p in (d / "ir").iterdir())
    pairs = [{"name": str(k), "ir": f"ir/IR{k}.png", "vi": f"vi/VIS{k}.png"} for k in nums]
    sources = [folder_source("ir/", repo, sha, ir_path), folder_source("vi/", repo, sha, vi_path)]
    known = {"RFN-Nest": "fused_rfnnest_700_wir_6.0_wvi_3.0_{ir}.png"}  # other MANIFEST.csv outputs are not copied
    results = {}
    for m in folders(d / "fused"):
        if m not in known:
            fail(f"tno21/fused/{m}: no source known")
        zrepo, zsha, zpath = prov.source(f"tno21/fused/{m}")
        zpath = zpath.removesuffix(" (unzipped)")
        sources.append({"prefix": f"fused/{m}/", "archive": f"https://github.com/{zrepo}/raw/{zsha}/{quote(zpath)}"})
        results[m] = result(m, known[m], zrepo, zsha, zpath)
    for m, (folder, pattern) in TNO21_ZOO.items():
        if not (d / folder).is_dir():
            fail(f"tno21: {folder} not found")
        zrepo, zsha, zpath = prov.source(f"tno21/fused/{m}")
        zpath = zpath.removesuffix(" (unzipped)")
        sources.append({"prefix": f"{folder}/", "archive": f"https://github.com/{zrepo}/raw/{zsha}/{quote(zpath)}"})
        results[m] = {**result(m, pattern, zrepo, zsha, zpath), "dir": folder}
    have = {m: len(list((d / r["dir"]).iterdir())) for m, r in results.items()}
    return {
        "name": "tno21",
        "title": "TNO Image Fusion Dataset, 21-pair set of Li et al.",
        "description": (
            "The 21 TNO infrared-visible pairs (IR1..IR21 / VIS1..VIS21) used by Hui Li et al. (DenseFuse, RFN-Nest) "
            "and later work, "
            "named 1..21. Grey 1-channel PNG in 10 sizes from 280x280 to 768x576. "
            f"Inputs from {repo} at {sha[:7]} ({ir_path}); the RFN-Nest and LRRNet results are the official outputs, "
            "each published only inside a zip archive (hli1221/imagefusion-rfn-nest, hli1221/imagefusion-LRRNet). "
            f"Results listed: {', '.join(f'{m} {n} of 21' for m, n in have.items())}; LRRNet's are kept in the data "
            "root's zoo/lrrnet_tno21/ folder (reached through `..`)."
        ),
        "citation": (
            f"{TNO_CITATION}; 21-pair selection and RFN-Nest results: Li, H., Wu, X.-J., Kittler, J. RFN-Nest: An "
            "end-to-end residual fusion network for infrared and visible images. Information Fusion 73 (2021) 72-86; "
            f"LRRNet results: {LRRNET_CITATION}"
        ),
        "licence": (
            "No licence file in the source repositories; the TNO images are from Toet's TNO Image Fusion Dataset on "
            "figshare, see its terms there."
        ),
        "homepage": TNO_HOME,
        "directory": "tno21",
        "pairs": pairs,
        "sources": sources,
        "results": results,
    }


def msrs(data: Path, prov: Provenance) -> dict:
    d = data / "msrs"
    pairs, splits = [], ("train", "test")
    for split in splits:
        stems = {p.stem for p in (d / split / "ir").glob("*.png")} & {p.stem for p in (d / split / "vi").glob("*.png")}
        pairs += [
            {"name": n, "ir": f"{split}/ir/{n}.png", "vi": f"{split}/vi/{n}.png", "split": split}
            for n in sorted(stems)
        ]
    urls = {}
    for r in read_csv(d / "PROVENANCE.csv"):
        if r["split"] in ("train", "test"):  # its fused rows are covered by the PIAFusion source below
            path = f"{r['split']}/{r['modality']}/{r['file']}"
            urls[path] = raw(r["source_repo"], prov.commit(r["source_repo"]), r["source_path"])
    named = {p[k] for p in pairs for k in ("ir", "vi")}
    converted = 0  # files stored re-encoded, so not byte-identical to their download
    for r in read_csv(d / "PROVENANCE_additions.csv"):  # the additions win (8 training visible images replaced)
        urls[r["staged_path"]] = raw(r["source_repo"], r["source_commit"], r["source_path"])
        converted += r["staged_path"] in named and r["staged_sha256"] != r["source_sha256"]
    urls = {f: u for f, u in sorted(urls.items()) if f in named}
    repo, sha, path = prov.source("msrs/fused/PIAFusion")
    return {
        "name": "msrs",
        "title": "MSRS (Multi-Spectral Road Scenarios), partial copy",
        "description": (
            f"{len(pairs)} registered infrared-visible pairs of MSRS ({sum(p['split'] == 'train' for p in pairs)} of "
            f"the 1083 official training pairs, {sum(p['split'] == 'test' for p in pairs)} of the 361 test pairs), "
            "640x480, infrared 1-channel PNG, visible RGB PNG, day (D) and night (N) road scenes; the official "
            "split's file names are listed in [official_splits]. The files are copies published in several "
            "repositories (SuperFusion, VIF-Benchmark, DRMF, SPGFusion, a SeAFusion fork), each URL given in [urls]. "
            f"{converted} training infrared images come from SPGFusion as 3-channel PNG and are stored here as "
            "1-channel PNG with the same pixel values, so their downloads do not match these checksums byte for byte. "
            "PIAFusion's published results cover 5 of the pairs."
        ),
        "citation": MSRS_CITATION,
        "licence": (
            "MSRS itself has no stated licence (cite PIAFusion); the repositories these copies come from are MIT "
            "(SuperFusion, VIF-Benchmark, PIAFusion) or have no licence file (DRMF and the others)."
        ),
        "homepage": "https://github.com/Linfeng-Tang/MSRS",
        "directory": "msrs",
        "default_split": "test",
        "pairs": pairs,
        "sources": [folder_source("fused/PIAFusion/", repo, sha, path)],
        "urls": urls,
        "results": {"PIAFusion": result("PIAFusion", "{pair}.png", repo, sha, path)},
        "official_splits": {s: (d / "splits" / f"{s}.txt").read_text(encoding="utf-8").split() for s in splits},
    }


def roadscene(data: Path, prov: Provenance) -> dict:
    repo, sha, paths = prov.source("roadscene")
    ir_path, vi_path = paths.split("; ")
    return {
        "name": "roadscene",
        "title": "RoadScene",
        "description": (
            "221 aligned infrared-visible pairs of road scenes selected from FLIR videos (names FLIR_xxxxx), "
            "JPEG, infrared grey, visible RGB, sizes varying from 368x178 to 563x459 (the same within a pair). "
            f"Copies of {ir_path}/ and {vi_path}/ in {repo} at {sha[:7]}."
        ),
        "citation": ROADSCENE_CITATION,
        "licence": "No licence file in hanna-xu/RoadScene; cite FusionDN / U2Fusion.",
        "homepage": f"https://github.com/{repo}",
        "directory": "roadscene",
        "pairs": plain_pairs(data / "roadscene", ".jpg"),
        "sources": [folder_source("ir/", repo, sha, ir_path), folder_source("vi/", repo, sha, vi_path)],
    }


def roadscene44_csf(data: Path, prov: Provenance) -> dict:
    d = data / "roadscene44_csf"
    repo, sha, paths = prov.source("roadscene44_csf")
    ir_path, vi_path, res_path = paths.split("; ")
    methods = folders(d / "fused")
    if methods != ["CSF"]:
        fail(f"roadscene44_csf/fused: expected only CSF, found {methods}")
    return {
        "name": "roadscene44_csf",
        "title": "RoadScene, 44-pair test set of CSF",
        "description": (
            "44 RoadScene infrared-visible pairs, renamed 1..44, with the official results of CSF. "
            "Grey JPEG (both modalities, 1 channel), sizes from 466x216 to 597x370. "
            f"Copies of {ir_path}/, {vi_path}/ and {res_path}/ in {repo} at {sha[:7]}."
        ),
        "citation": (
            "Xu, H., Zhang, H., Ma, J. Classification Saliency-Based Rule for Visible and Infrared Image Fusion. "
            f"IEEE TCI 7 (2021) 824-836; RoadScene: {ROADSCENE_CITATION}"
        ),
        "licence": "No licence file in hanna-xu/CSF; cite CSF and FusionDN / U2Fusion.",
        "homepage": f"https://github.com/{repo}",
        "directory": "roadscene44_csf",
        "pairs": plain_pairs(d, ".jpg", key=int),
        "sources": [
            folder_source("ir/", repo, sha, ir_path),
            folder_source("vi/", repo, sha, vi_path),
            folder_source("fused/CSF/", repo, sha, res_path),
        ],
        "results": {"CSF": result("CSF", "{pair}.jpg", repo, sha, res_path)},
    }


def vifb21(data: Path, prov: Provenance) -> dict:
    d = data / "vifb"
    repo, sha, _ = prov.source("vifb")
    sources = [folder_source("ir/", repo, sha, "input/IR"), folder_source("vi/", repo, sha, "input/VI")]
    results = {}
    for m in folders(d / "fused"):
        # the repository keeps all methods' images in one flat folder, <image>_<method>.jpg
        sources.append(folder_source(f"fused/{m}/", repo, sha, "output/fused_images"))
        results[m] = result(m, "{pair}_" + m + ".jpg", repo, sha, f"output/fused_images/*_{m}.jpg")
    return {
        "name": "vifb21",
        "title": "VIFB: Visible and Infrared Image Fusion Benchmark, 21 pairs",
        "description": (
            "The 21 infrared-visible pairs of VIFB (not TNO; collected from several public sets), JPEG, visible RGB, "
            "infrared grey (17 stored as 3-channel), sizes from 320x240 to 640x480, with the fused images of "
            f"{len(results)} methods as published by VIFB (JPEG, RGB). Copies of input/IR, input/VI and "
            f"output/fused_images in {repo} at {sha[:7]}."
        ),
        "citation": (
            "Zhang, X., Ye, P., Xiao, G. VIFB: A Visible and Infrared Image Fusion Benchmark. "
            "CVPR Workshops 2020; cite the source data sets as VIFB asks"
        ),
        "licence": "No licence file in xingchenzhang/VIFB; cite VIFB and the data sets its images come from.",
        "homepage": f"https://github.com/{repo}",
        "directory": "vifb",
        "pairs": plain_pairs(d, ".jpg"),
        "sources": sources,
        "results": results,
    }


def vifbench12(data: Path, prov: Provenance) -> dict:
    d = data / "vifbench12"
    repo, sha, path = prov.source("vifbench12/ir+vi")
    rrepo, rsha, _ = prov.source("vifbench12/fused+metrics")
    sources = [folder_source(f"{m}/", repo, sha, path.replace("{ir,vi}", m)) for m in ("ir", "vi")]
    results = {}
    for m in folders(d / "fused"):
        sources.append(folder_source(f"fused/{m}/", rrepo, rsha, f"Results/{m}"))
        results[m] = result(m, "{pair}.png", rrepo, rsha, f"Results/{m}")
    # The method zoo's reference images from the same run (zoo/README.md) are a sample of the pairs, kept in the
    # data root's zoo/ folder: the manifest reaches them from the set's folder through `..`.
    zoo = folders(data / "zoo" / "vifbench12" / "fused")
    for m in zoo:
        rel = f"../zoo/vifbench12/fused/{m}"
        sources.append(folder_source(f"{rel}/", rrepo, rsha, f"Results/{m}"))
        results[m] = {**result(m, "{pair}.png", rrepo, rsha, f"Results/{m}"), "dir": rel}
    return {
        "name": "vifbench12",
        "title": "VIF-Benchmark demo set, 12 pairs",
        "description": (
            "The 12 demo infrared-visible pairs of VIF-Benchmark: 6 from MSRS (640x480), 3 from RoadScene and 3 "
            "from TNO; PNG, infrared grey, visible RGB. With fused results of "
            f"{len(results)} methods from a public run of VIF-Benchmark ({rrepo} at {rsha[:7]}): RGB, the luminance "
            f"fused and recoloured with the visible CbCr ({', '.join(zoo)}: 4 of the 12 pairs, kept in the data "
            f"root's zoo/vifbench12/ folder). Inputs from {repo} at {sha[:7]} ({path})."
        ),
        "citation": (
            f"Inputs: {MSRS_CITATION}; {ROADSCENE_CITATION}; {TNO_CITATION}. "
            "Collection: Linfeng-Tang/VIF-Benchmark (GitHub)"
        ),
        "licence": (
            "VIF-Benchmark is MIT; the images keep the terms of MSRS, RoadScene and TNO. The results repository "
            "is a fork of it with no licence file of its own."
        ),
        "homepage": f"https://github.com/{repo}",
        "directory": "vifbench12",
        "pairs": plain_pairs(d, ".png"),
        "sources": sources,
        "results": results,
    }


IFCNN_REPO, IFCNN_COMMIT = "uzeful/IFCNN", "8fe59c2b1553e52acc793986208ca479d134a8da"
IFCNN_IV_ORDER = ["Camp", "Camp1", "Dune", "Gun", "Navi", "Kayak", "Octec", "Road", "Road2", "Steamboat", "T2", "T3",
                  "Trees4906", "Trees4917"]  # IFCNN_Main.py's IV_filenames (its 'Window' has no files)


def ifcnn_iv14(data: Path, prov: Provenance) -> dict:
    d = data / "zoo" / "ifcnn_iv14"
    repo, sha = IFCNN_REPO, IFCNN_COMMIT
    stems = {p.name.removesuffix("_IR.png") for p in (d / "inputs").glob("*_IR.png")}
    unknown = stems - set(IFCNN_IV_ORDER)
    if unknown:
        fail(f"zoo/ifcnn_iv14: pairs not in IFCNN_Main.py's list: {sorted(unknown)}")
    names = [n for n in IFCNN_IV_ORDER if n in stems]
    return {
        "name": "ifcnn_iv14",
        "title": "IFCNN's infrared-visible test set (sample)",
        "description": (
            f"{len(names)} of the 14 infrared-visible pairs of IFCNN's IVDataset (TNO scenes and others: Camp, Dune, "
            "Kayak, Octec, Road2, T2, ...), grey 1-channel PNG in sizes from 256x256 to 640x480, with the official "
            f"IFCNN-MAX results. Copies of Code/datasets/IVDataset and Code/results in {repo} at {sha[:7]}."
        ),
        "citation": (
            "Zhang, Y., Liu, Y., Sun, P., Yan, H., Zhao, X., Zhang, L. IFCNN: A general image fusion framework based "
            f"on convolutional neural network. Information Fusion 54 (2020) 99-118; {TNO_CITATION}"
        ),
        "licence": "No licence file in uzeful/IFCNN; the TNO scenes keep the terms of Toet's TNO Image Fusion Dataset.",
        "homepage": f"https://github.com/{repo}",
        "directory": "zoo/ifcnn_iv14",
        "pairs": [{"name": n, "ir": f"inputs/{n}_IR.png", "vi": f"inputs/{n}_Vis.png"} for n in names],
        "sources": [
            folder_source("inputs/", repo, sha, "Code/datasets/IVDataset"),
            folder_source("fused/IFCNN-MAX/", repo, sha, "Code/results"),
        ],
        "results": {"IFCNN-MAX": result("IFCNN-MAX", "IFCNN-MAX-IV-{pair}.png", repo, sha, "Code/results")},
    }


# Reference sets of the method zoo (issue 14): samples of each method's official test set with its published results,
# copied byte for byte under zoo/ of the data root (zoo/README.md there gives the sources); not in MANIFEST.csv.
STDFUSIONNET = ("jiayi-ma/STDFusionNet", "8b4a51308b713e1fe62b0e48b0e2873ea54952ab")
CUFD = ("Meiqi-Gong/CUFD", "7539bd31a54ecfe95c59bf5defd67767bf7f5836")


def stdfusionnet_tno9(data: Path, prov: Provenance) -> dict:
    repo, sha = STDFUSIONNET
    d = data / "zoo" / "stdfusionnet_tno9"
    pairs = plain_pairs(d, ".bmp", key=int)
    return {
        "name": "stdfusionnet_tno9",
        "title": "TNO, STDFusionNet's 9-pair test set (sample)",
        "description": (
            f"{len(pairs)} of the 9 TNO infrared-visible pairs that STDFusionNet's official test script fuses "
            "(Test_ir, Test_vi), named 01..09, with the authors' published results (STDFusionNet_Results, gray "
            "BMP). The inputs are JPEG files named .bmp: infrared 1-channel, visible 3-channel (YCbCr JPEG of "
            "near-gray content); widths 371-589 and heights 306-426 pixels here. "
            f"Copies of {repo} at {sha[:7]}; the other pairs are at the same URLs."
        ),
        "citation": (
            "Ma, J., Tang, L., Xu, M., Zhang, H., Xiao, G. STDFusionNet: An Infrared and Visible Image Fusion Network "
            f"Based on Salient Target Detection. IEEE TIM 70 (2021) 5009513; {TNO_CITATION}"
        ),
        "licence": (
            f"{repo} is MIT; the TNO images are from Toet's TNO Image Fusion Dataset on figshare, see its terms there."
        ),
        "homepage": f"https://github.com/{repo}",
        "directory": "zoo/stdfusionnet_tno9",
        "pairs": pairs,
        "sources": [
            folder_source("ir/", repo, sha, "Test_ir"),
            folder_source("vi/", repo, sha, "Test_vi"),
            folder_source("fused/STDFusionNet/", repo, sha, "STDFusionNet_Results"),
        ],
        "results": {"STDFusionNet": result("STDFusionNet", "{pair}.bmp", repo, sha, "STDFusionNet_Results")},
    }


def cufd_roadscene10(data: Path, prov: Provenance) -> dict:
    repo, sha = CUFD
    d = data / "zoo" / "cufd_roadscene10"
    pairs = plain_pairs(d, ".jpg", key=int)
    return {
        "name": "cufd_roadscene10",
        "title": "RoadScene, CUFD's 10-pair test set (sample)",
        "description": (
            f"{len(pairs)} of the 10 RoadScene infrared-visible pairs in CUFD's repository (test_imgs/RoadScene, "
            "named 1..10), with the authors' published results (results/RoadScene, gray BMP). Both modalities are "
            "1-channel JPEG; widths 478-507 and heights 322-365 pixels here. "
            f"Copies of {repo} at {sha[:7]}; the other pairs are at the same URLs."
        ),
        "citation": (
            "Xu, H., Gong, M., Tian, X., Huang, J., Ma, J. CUFD: An encoder-decoder network for visible and "
            "infrared image fusion based on common and unique feature decomposition. CVIU 218 (2022) 103407; "
            f"RoadScene: {ROADSCENE_CITATION}"
        ),
        "licence": f"No licence file in {repo}; cite CUFD and FusionDN / U2Fusion.",
        "homepage": f"https://github.com/{repo}",
        "directory": "zoo/cufd_roadscene10",
        "pairs": pairs,
        "sources": [
            folder_source("ir/", repo, sha, "test_imgs/RoadScene/IR"),
            folder_source("vi/", repo, sha, "test_imgs/RoadScene/VIS"),
            folder_source("fused/CUFD/", repo, sha, "results/RoadScene"),
        ],
        "results": {"CUFD": result("CUFD", "{pair}.bmp", repo, sha, "results/RoadScene")},
    }


# DIDFuse and AUIF-Net (Zixiang Zhao): both repositories hold the same 40 TNO test pairs (Datasets/Test_data_TNO,
# byte-identical) and each its own published results on them.
ZHAO = {
    "DIDFuse": ("Zhaozixiang1228/IVIF-DIDFuse", "5f287300dce7cbc90b9e08e6872455af6baa279f", "Test_result/TNO_IJCAI"),
    "AUIF-Net": ("Zhaozixiang1228/IVIF-AUIF-Net", "8f54650ffbc0a9e655a0d4c6098751bedc319803", "Test_result/TNO_TCSVT"),
}


def zhao_tno40(data: Path, prov: Provenance) -> dict:
    d = data / "zoo" / "zhao_tno40"
    repo, sha, _ = ZHAO["DIDFuse"]
    nums = sorted(int(re.fullmatch(r"IR(\d+)\.bmp", p.name)[1]) for p in (d / "inputs").glob("IR*.bmp"))
    pairs = [{"name": str(k), "ir": f"inputs/IR{k}.bmp", "vi": f"inputs/VIS{k}.bmp"} for k in nums]
    sources = [folder_source("inputs/", repo, sha, "Datasets/Test_data_TNO")]
    results = {}
    for m in folders(d / "fused"):
        if m not in ZHAO:
            fail(f"zoo/zhao_tno40/fused/{m}: no source known")
        mrepo, msha, mpath = ZHAO[m]
        sources.append(folder_source(f"fused/{m}/", mrepo, msha, mpath))
        results[m] = result(m, "F{pair}.png", mrepo, msha, mpath)
    return {
        "name": "zhao_tno40",
        "title": "TNO, the 40-pair test set of DIDFuse and AUIF-Net (sample)",
        "description": (
            f"{len(pairs)} of the 40 TNO infrared-visible pairs (IR<k>.bmp / VIS<k>.bmp, named k) that Zixiang Zhao's "
            "DIDFuse and AUIF-Net repositories test on, with both methods' published results (F<k>.png). Gray 8-bit "
            f"BMP, 768x576 and 280x280 here. Inputs from Datasets/Test_data_TNO of {repo} at {sha[:7]} (the same "
            "files in both repositories); results from "
            + "; ".join(f"{r} at {c[:7]} ({p})" for r, c, p in ZHAO.values())
            + ". The other pairs are at the same URLs."
        ),
        "citation": (
            "Zhao, Z., Xu, S., Zhang, C., Liu, J., Zhang, J., Li, P. DIDFuse: Deep Image Decomposition for Infrared "
            "and Visible Image Fusion. IJCAI 2020, 970-976; Zhao, Z., Xu, S., Zhang, J., Liang, C., Zhang, C., Liu, J. "
            "Efficient and Model-Based Infrared and Visible Image Fusion via Algorithm Unrolling. IEEE TCSVT 32(3) "
            f"(2022) 1186-1196; {TNO_CITATION}"
        ),
        "licence": (
            "No licence file in the source repositories; the TNO images are from Toet's TNO Image Fusion Dataset on "
            "figshare, see its terms there."
        ),
        "homepage": f"https://github.com/{repo}",
        "directory": "zoo/zhao_tno40",
        "pairs": pairs,
        "sources": sources,
        "results": results,
    }


# TOML, written by hand (tomllib only reads)


def q(s: str) -> str:
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in s) + '"'


def key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else q(k)


def table(d: dict[str, str]) -> list[str]:
    return [f"{key(k)} = {q(v)}" for k, v in d.items()]


def to_toml(spec: dict) -> str:
    head = ("name", "title", "description", "citation", "licence", "homepage", "directory", "default_split")
    lines = table({k: spec[k] for k in head if k in spec})
    lines += ["pairs = ["]
    lines += ["  { " + ", ".join(table(p)) + " }," for p in spec["pairs"]]
    lines += ["]"]
    for s in spec["sources"]:
        lines += ["", "[[sources]]", *table(s)]
    if spec.get("urls"):
        lines += ["", "[urls]", *table(spec["urls"])]
    for m, r in spec.get("results", {}).items():
        lines += ["", f"[results.{key(m)}]", *table(r)]
    if spec.get("official_splits"):
        lines += ["", "[official_splits]"]
        for split, names in spec["official_splits"].items():
            lines += [f"{key(split)} = ["]
            lines += ["  " + " ".join(q(n) + "," for n in names[i:i + 8]) for i in range(0, len(names), 8)]
            lines += ["]"]
    return "\n".join(lines) + "\n"


def files_of(spec: dict, root: Path) -> list[str]:
    """Every file the manifest names that exists: the pairs' images, then each result's images."""
    files = [p[k] for p in spec["pairs"] for k in ("ir", "vi")]
    for m, r in spec.get("results", {}).items():
        named = [
            f"{r['dir']}/" + r["pattern"].format(pair=p["name"], ir=Path(p["ir"]).stem, vi=Path(p["vi"]).stem)
            for p in spec["pairs"]
        ]
        have = [f for f in named if (root / f).is_file()]
        print(f"  results.{m}: {len(have)}/{len(named)} pairs")
        files += have
    return files


def check(spec: dict, root: Path, files: list[str]) -> None:
    names = [p["name"] for p in spec["pairs"]]
    if len(set(names)) != len(names):
        fail(f"{spec['name']}: duplicate pair names {sorted({n for n in names if names.count(n) > 1})}")
    missing = [f for f in files if not (root / f).is_file()]
    # every file in a folder the manifest draws on must be named by it
    dirs = {f.rsplit("/", 1)[0] for f in files} | {r["dir"] for r in spec.get("results", {}).values()}
    stray = sorted({f"{d}/{p.name}" for d in dirs for p in (root / d).iterdir()} - set(files))
    prefixes = [s["prefix"] for s in spec["sources"]]
    unsourced = [f for f in files if f not in spec.get("urls", {}) and not any(f.startswith(p) for p in prefixes)]
    for what, bad in (("missing", missing), ("not named by the manifest", stray), ("without a URL", unsourced)):
        if bad:
            fail(f"{spec['name']}: {len(bad)} files {what}: {bad[:5]}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="data root holding MANIFEST.csv and one folder per set")
    args = ap.parse_args()
    prov = Provenance(args.data)
    for build in (tno42, tno21, msrs, roadscene, roadscene44_csf, vifb21, vifbench12, ifcnn_iv14, stdfusionnet_tno9,
                  cufd_roadscene10, zhao_tno40):
        spec = build(args.data, prov)
        root = args.data / spec["directory"]
        print(f"{spec['name']}: {len(spec['pairs'])} pairs")
        files = files_of(spec, root)
        check(spec, root, files)
        sums = "".join(f"{sha256(root / f)}  {f}\n" for f in sorted(files))
        (OUT / f"{spec['name']}.toml").write_text(to_toml(spec), encoding="utf-8", newline="\n")
        (OUT / f"{spec['name']}.sha256").write_text(sums, encoding="utf-8", newline="\n")


if __name__ == "__main__":
    main()
