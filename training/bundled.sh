#!/usr/bin/env bash
# How the bundled weights (src/napari_c2w/weights/) were trained: the exact commands of the
# model card (docs/model_card.md). About 2.5 h on a 2-core CPU for the first part (the weights
# before issue 11) and 85 min (AMX bf16) for the robustness fine-tuning after it; much less on a GPU.
#   training/bundled.sh [WORK_DIR]     (default: data/ and runs/ in the repository, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-.}
BIN=${BIN:-.venv/bin}
LA=${LA2018:-../shared/data/la2018/train}
D=$W/data; R=$W/runs/bundled
mkdir -p "$D"

# Real cavity cases: the 10 last case ids (sorted) are held out for testing, never trained on.
if [ ! -d "$D/la2018-train" ]; then
  cases=$(ls "$LA" | sort)
  "$BIN/napari-c2w" import $(echo "$cases" | head -n -10 | sed "s#^#$LA/#") --output "$D/la2018-train"
  "$BIN/napari-c2w" import $(echo "$cases" | tail -n 10 | sed "s#^#$LA/#") --output "$D/la2018-test"
fi
# Phantoms with cavity, wall and scar at the three spacings the phantom supports;
# seeds 1000+ are held out for testing.
if [ ! -d "$D/phantoms" ]; then
  "$BIN/napari-c2w" phantom "$D/phantoms" --layout zarr --cases 16 --seed 100 --spacing 1.25 0.625 0.625
  "$BIN/napari-c2w" phantom "$D/phantoms" --layout zarr --cases 12 --seed 200 --spacing 0.625 0.625 0.625
  "$BIN/napari-c2w" phantom "$D/phantoms" --layout zarr --cases 8 --seed 300 --spacing 2.5 0.625 0.625
  "$BIN/napari-c2w" phantom "$D/phantoms-test" --layout zarr --cases 10 --seed 1000 --spacing 1.25 0.625 0.625
fi
# Semi-synthetic cases on the real training images and cavities (issue 11, docs/robustness.md):
# two copies with a synthetic wall and scar rendered into the image, one SynthSeg-style copy.
if [ ! -d "$D/semisynth" ]; then
  "$BIN/napari-c2w" phantom -o "$D/semisynth" --from "$D/la2018-train" --cases 1 --seed 5000
  "$BIN/napari-c2w" phantom -o "$D/semisynth" --from "$D/la2018-train" --cases 1 --seed 5100
fi
[ -d "$D/synthseg" ] || "$BIN/napari-c2w" phantom -o "$D/synthseg" --from "$D/la2018-train" --cases 1 --seed 6000 --synthseg

T="$BIN/napari-c2w-train"
# Stage 1 (cavity prior) on real la2018 cavities and phantoms; the localizer on the same data.
[ -f "$R/localizer/run.json" ] || $T --config training/cpu/localizer.yaml --data "$D/la2018-train" "$D/phantoms" --output "$R/localizer"
[ -f "$R/cavity/run.json" ] || $T --config training/cpu/cavity.yaml --data "$D/la2018-train" "$D/phantoms" --output "$R/cavity"
# ... then twice 1000 more cavity iterations at a peak of 3e-4 (held-out la2018 Dice 0.865 -> 0.879).
# As shipped, this step started from the bf16-stored export of the cavity run (the earlier
# bundled cavity.pt), with threads: 1; the wall and scar runs below start from the cavity run.
[ -f "$R/cavity-ft/run.json" ] || $T --config training/cpu/cavity-ft.yaml --data "$D/la2018-train" "$D/phantoms" --init "$R/cavity" --output "$R/cavity-ft"
# ... and once more from that run (0.879 -> 0.884), with two threads.
[ -f "$R/cavity-ft2/run.json" ] || $T --config training/cpu/cavity-ft.yaml --data "$D/la2018-train" "$D/phantoms" --init "$R/cavity-ft" --output "$R/cavity-ft2"
# Stage 2, C2W-Tune: cavity weights, new head, progressive unfreezing A/B/C (1000 iterations) ...
[ -f "$R/wall/run.json" ] || $T --config training/cpu/wall.yaml --data "$D/phantoms" --init "$R/cavity" --output "$R/wall"
# ... then, because step C's 1e-5 peak leaves the CPU-sized budget short, 800 more iterations
# of plain fine-tuning from that run (the same as `--from RUN_DIR` for users).
[ -f "$R/wall-ft/run.json" ] || $T --config training/cpu/wall.yaml --data "$D/phantoms" --init "$R/wall" --schedule plain --iterations 800 --val-every 200 --output "$R/wall-ft"
# Stage 3, progressive scar learning: II (dual task, wall-band weighted loss) then III.
[ -f "$R/scar/run.json" ] || $T --config training/cpu/scar.yaml --data "$D/phantoms" --init "$R/cavity" --output "$R/scar"
# Each run ends by choosing its threshold on its validation cases (docs/training.md); the cavity
# is calibrated once more on its real validation cases alone, for real scans (0.5 -> 0.75).
# As shipped, the runs above predate calibration: the three thresholds were chosen with
# --calibrate on the bf16 exports, on the same validation cases.
[ -f "$R/cavity-ft2/best-real.pt" ] || $T --calibrate "$R/cavity-ft2/best.pt" --data "$D/la2018-train" --output "$R/cavity-ft2/best-real.pt"
# The weights of this first part (shipped until issue 11) go to $R/export.
[ -f "$R/export/scar.pt" ] || "$BIN/python" scripts/export_bundled.py "$R" "$R/export" cavity="$R/cavity-ft2/best-real.pt" wall="$R/wall-ft"

# Robustness fine-tuning (issue 11): every stage from those weights, on the data above with the
# shift augmentations (training/cpu/robust-*.yaml). As shipped, it started from the exported
# weights of commit 22c689b (`git show 22c689b:src/napari_c2w/weights/cavity.pt`), which the
# export above reproduces up to training nondeterminism; with AMX bf16 on 2 cores it took 85 min.
P=$R/export; RR=$W/runs/robust
[ -f "$RR/localizer/run.json" ] || $T --config training/cpu/robust-localizer.yaml --data "$D/la2018-train" "$D/phantoms" "$D/synthseg" --init "$P/localizer.pt" --output "$RR/localizer"
[ -f "$RR/cavity/run.json" ] || $T --config training/cpu/robust-cavity.yaml --data "$D/la2018-train" "$D/phantoms" "$D/semisynth" "$D/synthseg" --init "$P/cavity.pt" --output "$RR/cavity"
# ... then 600 iterations at 1e-4 without the rendered copies (their image around the cavity is
# redrawn; with them the held-out real cavity fell from 0.906 to 0.891, after this step 0.902),
# its threshold chosen on its real validation cases (0.75).
[ -f "$RR/cavity-ft/run.json" ] || $T --config training/cpu/robust-cavity-ft.yaml --data "$D/la2018-train" "$D/phantoms" "$D/synthseg" --init "$RR/cavity/best.pt" --output "$RR/cavity-ft"
[ -f "$RR/cavity-ft/best-real.pt" ] || $T --calibrate "$RR/cavity-ft/best.pt" --data "$D/la2018-train" --output "$RR/cavity-ft/best-real.pt"
# Wall and scar never see the SynthSeg copies: that rendering is a family they are tested on.
[ -f "$RR/wall/run.json" ] || $T --config training/cpu/robust-wall.yaml --data "$D/phantoms" "$D/semisynth" --init "$P/wall.pt" --output "$RR/wall"
[ -f "$RR/scar/run.json" ] || $T --config training/cpu/robust-scar.yaml --data "$D/phantoms" "$D/semisynth" --init "$P/scar.pt" --output "$RR/scar"
[ -f "$RR/export/scar.pt" ] || "$BIN/python" scripts/export_bundled.py "$RR" "$RR/export" cavity="$RR/cavity-ft/best-real.pt"

# Second robustness round (issue 11): the cavity with non-monotonic contrast remapping and a
# second set of SynthSeg-style copies; wall and scar with copies that keep the real image's own
# healthy wall (--real-wall). As shipped, it started from the weights of commit 7159add
# (= $RR/export up to training nondeterminism), and data/semisynth held only the seed-5000 copies.
[ -d "$D/synthseg2" ] || "$BIN/napari-c2w" phantom -o "$D/synthseg2" --from "$D/la2018-train" --cases 1 --seed 6100 --synthseg
[ -d "$D/semisynth-real" ] || "$BIN/napari-c2w" phantom -o "$D/semisynth-real" --from "$D/la2018-train" --cases 1 --seed 5200 --real-wall
Q=$RR/export; R2=$W/runs/robust2
[ -f "$R2/cavity/run.json" ] || $T --config training/cpu/robust-cavity-remap.yaml --data "$D/la2018-train" "$D/phantoms" "$D/synthseg2" --init "$Q/cavity.pt" --output "$R2/cavity"
[ -f "$R2/cavity/best-real.pt" ] || $T --calibrate "$R2/cavity/best.pt" --data "$D/la2018-train" --output "$R2/cavity/best-real.pt"
[ -f "$R2/wall/run.json" ] || $T --config training/cpu/robust-wall-real.yaml --data "$D/phantoms" "$D/semisynth" "$D/semisynth-real" --init "$Q/wall.pt" --output "$R2/wall"
[ -f "$R2/scar/run.json" ] || $T --config training/cpu/robust-scar-real.yaml --data "$D/phantoms" "$D/semisynth" "$D/semisynth-real" --init "$Q/scar.pt" --output "$R2/scar"
[ -f "$R2/export/scar.pt" ] || "$BIN/python" scripts/export_bundled.py "$R2" "$R2/export" localizer="$Q/localizer.pt" cavity="$R2/cavity/best-real.pt"

# Third robustness round (issue 11): the cavity 2000 more iterations with contrast remapping on
# half of the patches and both SynthSeg sets (la2018 held-out 0.897 -> 0.904); the wall with 28
# more phantoms (new anatomies at the three training spacings), its threshold left at 0.5
# (robust-wall-more.yaml says why); the scar with the same phantoms. As shipped, it started from
# the weights of commit 762297e (= $R2/export up to training nondeterminism); the wall run
# calibrated itself to 0.60 and the export reset its threshold to 0.5 (now calibrate: false).
if [ ! -d "$D/phantoms2" ]; then
  "$BIN/napari-c2w" phantom "$D/phantoms2" --layout zarr --cases 12 --seed 400 --spacing 1.25 0.625 0.625
  "$BIN/napari-c2w" phantom "$D/phantoms2" --layout zarr --cases 8 --seed 500 --spacing 0.625 0.625 0.625
  "$BIN/napari-c2w" phantom "$D/phantoms2" --layout zarr --cases 8 --seed 600 --spacing 2.5 0.625 0.625
fi
R3=$W/runs/robust3; S=$R2/export
[ -f "$R3/cavity/run.json" ] || $T --config training/cpu/robust-cavity-remap2.yaml --data "$D/la2018-train" "$D/phantoms" "$D/synthseg" "$D/synthseg2" --init "$S/cavity.pt" --output "$R3/cavity"
[ -f "$R3/cavity/best-real.pt" ] || $T --calibrate "$R3/cavity/best.pt" --data "$D/la2018-train" --output "$R3/cavity/best-real.pt"
[ -f "$R3/wall/run.json" ] || $T --config training/cpu/robust-wall-more.yaml --data "$D/phantoms" "$D/phantoms2" "$D/semisynth" "$D/semisynth-real" --init "$S/wall.pt" --output "$R3/wall"
[ -f "$R3/scar/run.json" ] || $T --config training/cpu/robust-scar-more.yaml --data "$D/phantoms" "$D/phantoms2" "$D/semisynth" "$D/semisynth-real" --init "$S/scar.pt" --output "$R3/scar"
# Fourth robustness round (issue 11): the localizer alone, 800 iterations from the first round's
# with contrast remapping on 40 % of the patches, both SynthSeg sets, data/phantoms2 and 18
# phantoms on a whole-thorax field of view (576 x 576 at 0.625 mm in-plane; the others cover
# about 150 mm). The first round's localizer gave a SynthSeg copy's atrium a mean probability of
# 0.12, missed a real case under SynthSeg tissue intensities and, on phantoms with a 360 mm
# field of view, put its largest component on another structure in 2 of 6. As shipped, it
# started from the bundled localizer of commit 3ce0052 (= $Q/localizer.pt).
if [ ! -d "$D/phantoms-wide" ]; then
  "$BIN/napari-c2w" phantom "$D/phantoms-wide" --layout zarr --cases 12 --seed 700 --spacing 1.25 0.625 0.625 --shape 44 576 576
  "$BIN/napari-c2w" phantom "$D/phantoms-wide" --layout zarr --cases 6 --seed 720 --spacing 2.5 0.625 0.625 --shape 22 576 576
fi
R4=$W/runs/robust4
[ -f "$R4/localizer/run.json" ] || $T --config training/cpu/robust-localizer2.yaml --data "$D/la2018-train" "$D/phantoms" "$D/phantoms2" "$D/phantoms-wide" "$D/synthseg" "$D/synthseg2" --init "$Q/localizer.pt" --output "$R4/localizer"
# The shipped weights: this round's localizer, the third round's cavity, wall and scar.
"$BIN/python" scripts/export_bundled.py "$R3" src/napari_c2w/weights localizer="$R4/localizer" cavity="$R3/cavity/best-real.pt"
# Seventh robustness round (issue 11): the wall's alternate, bundled as wall_contrast.pt (int8,
# 3.1 MiB). It is the sixth round's third wall variant (robust-wall-dr3.yaml: the shipped wall's
# data plus SynthSeg-style copies of the phantoms with their own wall and scar, data/synthseg-ph;
# commands in docs/training.md, sixth round). Alone it thinned the wall on real scans (coverage
# 61 % -> 52 %); as an alternate the pipeline runs it beside the wall and keeps, per case, the
# wall that covers more of the cavity's surface (docs/robustness.md, seventh round).
R6=$W/runs/robust6
if [ ! -d "$D/synthseg-ph" ]; then
  "$BIN/napari-c2w" phantom -o "$D/synthseg-ph" --from "$D/phantoms" --cases 1 --seed 6200 --synthseg --keep-labels
  "$BIN/napari-c2w" phantom -o "$D/synthseg-ph" --from "$D/phantoms2" --cases 1 --seed 6300 --synthseg --keep-labels
fi
[ -f "$R6/wall3/run.json" ] || $T --config training/cpu/robust-wall-dr3.yaml --data "$D/phantoms" "$D/phantoms2" "$D/semisynth" "$D/semisynth-real" "$D/synthseg-ph" --output "$R6/wall3"
"$BIN/python" scripts/export_bundled.py "$R6/none" src/napari_c2w/weights wall_contrast="$R6/wall3"
# Eighth robustness round (issue 11): the shipped scar's threshold chosen under the training's
# intensity shifts (train/calibrate.py, under_shift; the scar stage's default, so runs from now on
# do it at their end): the threshold best on the worst shift, 0.75 -> 0.5. Same weights.
rm -f "$W/runs/scar-under-shift.pt"
$T --calibrate src/napari_c2w/weights/scar.pt --under-shift --data "$D/phantoms" "$D/phantoms2" "$D/semisynth" "$D/semisynth-real" --output "$W/runs/scar-under-shift.pt" --device cpu
mv "$W/runs/scar-under-shift.pt" src/napari_c2w/weights/scar.pt
