#!/usr/bin/env bash
# The whole campaign loop with curl, as the README shows it, against a running server
# (default http://127.0.0.1:8080, the embedded default started by scripts/serve.sh):
# brief -> plan -> creative set -> sandbox deployment -> 14 simulated days -> report ->
# experiment -> optimizer proposals -> approval. Needs ADFORGE_API_KEY and jq.
#   ADFORGE_URL=http://127.0.0.1:8080 ADFORGE_API_KEY=adf_... ./scripts/campaign_loop.sh
set -euo pipefail
URL="${ADFORGE_URL:-http://127.0.0.1:8080}"
: "${ADFORGE_API_KEY:?set ADFORGE_API_KEY to an API key of the server}"
auth=(-H "authorization: Bearer $ADFORGE_API_KEY" -H 'content-type: application/json')

post() { curl -fsS "${auth[@]}" "$URL$1" -d "$2"; }
get() { curl -fsS "${auth[@]}" "$URL$1"; }
# Waits for a job and prints its result.
wait_job() {
  while :; do
    job=$(get "/api/jobs/$1")
    state=$(jq -r .state <<<"$job")
    printf '  %s %s %.0f%% %s\n' "$1" "$state" "$(jq .progress*100 <<<"$job")" "$(jq -r .message <<<"$job")" >&2
    case "$state" in
      succeeded) jq .result <<<"$job"; return 0 ;;
      failed|cancelled) jq . <<<"$job" >&2; return 1 ;;
    esac
    sleep 2
  done
}

echo "1. plan a campaign from a brief" >&2
job=$(post /api/campaigns/plan '{
  "product": "Cold brew coffee concentrate, makes 16 cups", "audience": "busy commuters",
  "objective": "sales", "currency": "USD", "total_budget": "2100.00",
  "start_date": "2027-03-01", "end_date": "2027-03-21", "platforms": ["sandbox"],
  "landing_url": "https://example.com/coldbrew", "seed": 7}' | jq -r .job_id)
campaign=$(wait_job "$job" | jq -r .campaign_id)
get "/api/campaigns/$campaign/plan" | jq '{name: .plan.name, daily_budget_micros: .plan.daily_budget_micros, concepts: [.plan.concepts[].name], kpis: .plan.kpis}'
get "/api/campaigns/$campaign/runs" | jq '[.runs[0].trace[] | {step, tool}]'

echo "2. generate its creatives (copy, every Meta format, a vertical video each)" >&2
job=$(post /api/generate "{\"campaign_id\": \"$campaign\", \"video_seconds\": 6, \"video_scale\": 0.5}" | jq -r .id)
wait_job "$job" | jq '[.creatives[] | {name, headline: .copy.headline, formats: (.assets | keys)}]'

echo "3. deploy to the sandbox platform" >&2
deployment=$(post /api/deployments "{\"campaign_id\": \"$campaign\", \"platform\": \"sandbox\", \"approve\": true}")
wait_job "$(jq -r .job_id <<<"$deployment")" >/dev/null
deployment=$(jq -r .deployment.id <<<"$deployment")
get "/api/deployments/$deployment" | jq '{status, objects: [.objects[] | {kind, external_id}]}'

echo "4. simulate 14 days and read the metrics back" >&2
wait_job "$(post "/api/deployments/$deployment/sync" '{"days": 14}' | jq -r .job_id)" >/dev/null
get "/api/campaigns/$campaign/report" | jq '{days, totals, best_vs_rest}'

echo "5. the creatives as an experiment" >&2
post "/api/campaigns/$campaign/experiment" '{"platform": "sandbox"}' | jq '{name, statistics: .statistics.variants}'

echo "6. optimizer proposals, and approving the first" >&2
actions=$(post "/api/campaigns/$campaign/optimize" '{"min_days": 5, "min_spend": 1, "pause_below": 0.5}')
jq '[.actions[] | {id, kind, reason}]' <<<"$actions"
action=$(jq -r '.actions[0].id // empty' <<<"$actions")
if [ -n "$action" ]; then
  post "/api/actions/$action/approve" '{}' | jq '{kind, status, result}'
fi
