#!/usr/bin/env bash
# The README's ad set, made from one brief by the default models on this machine: the hibiscus
# photo of tests/fixtures/esrgan upscaled x4 by ESRGAN-slim (POST /v1/images/upscale) is the
# brand image, SmolLM2-135M writes the copy from the brief, the compositor renders every format
# (POST /api/creatives/render), and the results land in docs/img/adset/. With an image model
# installed (--image-model), pass BACKGROUND=generated to use a generated background instead.
# Needs the default models (the README's first command pulls them). Usage: scripts/render_ad_set.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
cargo build --quiet
bin=target/debug/adforge
out=docs/img/adset
mkdir -p "$out"
export ADFORGE_API_KEY="adf_adset-key-0123456789abcdef01234"
serve_docs_server "$bin"
auth=(-H "Authorization: Bearer $ADFORGE_API_KEY" -H "Content-Type: application/json")
log "upscaling the brand photo x4 with ESRGAN-slim"
curl -fsS "${auth[@]}" -d @"$work/upscale.json" "$base/v1/images/upscale" >"$work/upscaled.json"
python3 - "$work" "${BACKGROUND:-image}" <<'PY'
import json, sys
work, background = sys.argv[1], sys.argv[2]
upscaled = json.load(open(f"{work}/upscaled.json"))["data"][0]["b64_json"]
body = {
    "brief": {"product": "Hibiscus & Co. fresh-cut flower bouquets, delivered the same day",
              "audience": "people sending flowers for birthdays and thank-yous", "tone": "warm"},
    "background": background,
    "brand": {"primary": "#C2185B", "secondary": "#FFFFFF", "font": "DejaVu Serif"},
    "formats": ["meta_feed_square", "meta_stories", "meta_link", "google_display_landscape",
                "iab_medium_rectangle", "iab_leaderboard", "iab_half_page", "iab_mobile_banner"],
    "output": "jpeg", "seed": 7,
}
if background == "image":
    body["background_image"] = upscaled
json.dump(body, open(f"{work}/render.json", "w"))
PY
log "rendering the ad set (copy by the text model, compositor at every format)"
job=$(curl -sS "${auth[@]}" -d @"$work/render.json" "$base/api/creatives/render")
case "$job" in *\"code\"*) log "render refused: $job"; exit 1 ;; esac
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
for _ in $(seq 1 600); do
  state=$(curl -fsS "${auth[@]}" "$base/api/jobs/$id")
  case "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$state")" in
    succeeded) break ;;
    failed|cancelled) log "render failed: $state"; exit 1 ;;
  esac
  sleep 1
done
python3 - "$state" "$out" "$base" "$ADFORGE_API_KEY" <<'PY'
import json, sys, urllib.request
job, out, base, key = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
result = job["result"]
json.dump({"copy": result["copy"], "background": result["background"],
           "formats": [c["format"] for c in result["creatives"]]}, open(f"{out}/adset.json", "w"), indent=2)
for c in result["creatives"]:
    request = urllib.request.Request(base + c["url"], headers={"Authorization": f"Bearer {key}"})
    open(f"{out}/{c['format']}.jpg", "wb").write(urllib.request.urlopen(request).read())
print(json.dumps(result["copy"], indent=2))
PY
log "wrote $(ls "$out"/*.jpg | wc -l) images to $out"
