#!/usr/bin/env bash
# The README's video ad: a 15 s 9:16 (1080x1920, 30 fps) ad made from one brief by the default
# models on this machine. ESRGAN-slim upscales the hibiscus photo of tests/fixtures/esrgan x4
# (POST /v1/images/upscale), the photo is uploaded as an asset (POST /api/assets), SmolLM2-135M
# writes the copy from the brief, and the timeline renderer fills the ad template (hook, benefit,
# product, end card; Ken Burns over the photo, animated text, crossfade/slide/wipe) through
# POST /v1/videos. Poster frames land in docs/video/ (the MP4 itself is not committed).
# Needs the default models (the README's first command pulls them). Usage: scripts/render_video_ad.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
cargo build --release --quiet
bin=target/release/adforge
out=docs/video
mkdir -p "$out"
export ADFORGE_API_KEY="adf_videoad-key-0123456789abcdef0123"
serve_docs_server "$bin"
auth=(-H "Authorization: Bearer $ADFORGE_API_KEY")
log "upscaling the brand photo x4 with ESRGAN-slim"
curl -fsS "${auth[@]}" -H "Content-Type: application/json" -d @"$work/upscale.json" \
  "$base/v1/images/upscale" >"$work/upscaled.json"
python3 -c 'import base64,json,sys; open(sys.argv[2],"wb").write(base64.b64decode(json.load(open(sys.argv[1]))["data"][0]["b64_json"]))' \
  "$work/upscaled.json" "$work/photo.png"
photo=$(curl -fsS "${auth[@]}" -H "Content-Type: image/png" --data-binary @"$work/photo.png" \
  "$base/api/assets?name=photo.png" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
cat >"$work/video.json" <<JSON
{"brief": {"product": "Hibiscus & Co. fresh-cut flower bouquets, delivered the same day",
           "audience": "people sending flowers for birthdays and thank-yous", "tone": "warm"},
 "brand": {"primary": "#C2185B", "secondary": "#FFFFFF", "font": "DejaVu Serif"},
 "background_image": "$photo", "seconds": 15, "fps": 30,
 "formats": ["meta_reels"], "preview": "gif", "seed": 7}
JSON
log "rendering the 15 s 9:16 ad (copy by the text model, the timeline renderer at 1080x1920)"
job=$(curl -sS "${auth[@]}" -H "Content-Type: application/json" -d @"$work/video.json" "$base/v1/videos")
case "$job" in *\"code\"*) log "render refused: $job"; exit 1 ;; esac
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
for _ in $(seq 1 900); do
  state=$(curl -fsS "${auth[@]}" "$base/v1/videos/$id")
  case "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$state")" in
    succeeded) break ;;
    failed|cancelled) log "render failed: $state"; exit 1 ;;
  esac
  sleep 1
done
curl -fsS "${auth[@]}" "$base/v1/videos/$id/content?format=meta_reels" -o "$work/ad.mp4"
curl -fsS "${auth[@]}" "$base/v1/videos/$id/content?format=meta_reels&variant=poster" -o "$out/poster.jpg"
# Frames from each of the template's four clips, scaled to 360x640 for the README.
for t in 1.2 4.6 8.4 13.5; do
  ffmpeg -v error -y -ss "$t" -i "$work/ad.mp4" -frames:v 1 -vf scale=360:640 -q:v 4 "$out/frame-${t}s.jpg"
done
python3 - "$state" "$out" <<'PY'
import json, sys
job, out = json.loads(sys.argv[1]), sys.argv[2]
result = job["result"]
video = result["videos"][0]
summary = {"seconds": result["seconds"], "frames": result["frames"], "fps": result["fps"],
           "width": video["width"], "height": video["height"], "bytes": video["bytes"],
           "copy": result.get("copy"), "started_at": job["started_at"], "finished_at": job["finished_at"]}
json.dump(summary, open(f"{out}/video.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
ffprobe -v error -count_frames -show_entries stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate \
  -of compact "$work/ad.mp4"
log "wrote poster frames to $out"
