/** The JSON shapes of the adforge API routes the dashboard reads (see src/api/*.rs). */

export const OBJECTIVES = ['awareness', 'traffic', 'engagement', 'leads', 'app_promotion', 'sales'] as const;
export const CAMPAIGN_STATUSES = ['draft', 'active', 'paused', 'ended', 'archived'] as const;
export const PLATFORMS = ['meta', 'google', 'tiktok', 'sandbox'] as const;
/** Platforms that deliver for real (and take connections); the sandbox only rehearses. */
export const REAL_PLATFORMS = ['meta', 'google', 'tiktok'] as const;
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export type JobState = (typeof JOB_STATES)[number];

export interface UserView {
  id: string;
  owner_id: string;
  email: string;
  role: string;
  created_at: number;
}

export interface MeView {
  owner_id: string;
  is_admin: boolean;
  key_id: string | null;
  user: UserView | null;
}

export interface LoginResponse {
  token: string;
  token_type: string;
  expires_at: number;
  user: UserView;
}

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export interface CreatedKey {
  id: string;
  name: string;
  key: string;
  prefix: string;
  created_at: number;
}

export interface Campaign {
  id: string;
  name: string;
  objective: string;
  status: string;
  currency: string;
  /** Decimal string in the currency's units. */
  daily_budget: string;
  start_date: string;
  end_date: string | null;
  platforms: string[];
  brief: Record<string, unknown> | null;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface CampaignPage {
  campaigns: Campaign[];
  next_cursor: string | null;
}

export interface ReportTotals {
  impressions: number;
  clicks: number;
  spend: string;
  spend_micros: number;
  conversions: number;
  revenue: string;
  ctr: number | null;
  cpa: number | null;
  roas: number | null;
}

export interface Report {
  campaign_id: string;
  currency: string;
  days: number;
  first_day: string | null;
  last_day: string | null;
  totals: ReportTotals;
  platforms: (ReportTotals & { platform: string })[];
  creatives: (ReportTotals & { creative_id: string })[];
  best_vs_rest: {
    best_creative_id: string;
    conversion_rate: number;
    others_conversion_rate: number;
    z: number;
    p_value: number;
    test: string;
    /** On the campaign objective's metric (the optimizer's), e.g. "Creative 'X' has ROAS 3.76x against 0.85x for the others." */
    headline?: string | null;
    metric?: string | null;
  } | null;
}

export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  payload: Record<string, unknown>;
  progress: number;
  message: string;
  attempts: number;
  max_attempts: number;
  priority: number;
  result: Record<string, unknown> | null;
  error: string | null;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  queue_position: number | null;
  eta_seconds: number | null;
}

export interface JobPage {
  jobs: JobView[];
  next_cursor: string | null;
}

export interface JobEvent {
  state: JobState;
  progress: number;
  message: string;
  at: string;
}

export interface ToolCall {
  step: number;
  tool: string;
  chosen_by: string;
  reason: string;
  arguments: unknown;
  result: unknown;
}

export interface AgentRun {
  id: string;
  agent: string;
  seed: number;
  status: string;
  input: unknown;
  trace: ToolCall[] | unknown;
  output: unknown;
  error: string | null;
  created_at: number;
}

export interface AdSet {
  id: string;
  platform: string;
  name: string;
  targeting: Record<string, unknown>;
  daily_budget_micros: number;
  status: string;
  version: number;
}

export interface PlanChannel {
  platform: string;
  daily_budget_micros: number;
  share: number;
  weight: number;
  audience: { name?: string; description?: string; countries?: string[]; age_min?: number | null; age_max?: number | null; interests?: string[] };
}

export interface CopyVariant {
  headline: string;
  primary_text: string;
  description: string;
  call_to_action: string;
}

export interface Plan {
  name?: string;
  objective?: string;
  currency?: string;
  total_budget_micros?: number;
  daily_budget_micros?: number;
  /** What the whole-minor-unit daily budget leaves of the total (less than a minor unit a day). */
  unallocated_micros?: number;
  schedule?: { start_date: string; end_date: string; days: number; phases: { name: string; days: number; rule: string }[] };
  channels?: PlanChannel[];
  concepts?: { name: string; angle: string; copy: Record<string, Partial<CopyVariant>> | null }[];
  kpis?: { name: string; target: number | string; basis: string }[];
  landing_url?: string;
}

export interface PlanView {
  campaign_id: string;
  plan: Plan;
  ad_sets: AdSet[];
}

export interface Action {
  id: string;
  campaign_id: string;
  run_id: string;
  kind: string;
  params: Record<string, unknown>;
  reason: string;
  status: 'proposed' | 'applied' | 'rejected' | 'failed';
  result: Record<string, unknown> | null;
  created_at: number;
  decided_at: number | null;
}

export interface Deployment {
  id: string;
  campaign_id: string;
  platform: string;
  status: string;
  job_id: string | null;
  error: string | null;
  version: number;
  created_at: number;
  updated_at: number;
  objects?: { kind: string; local_id: string; external_id: string }[];
}

export interface MetricRow {
  day: string;
  platform: string;
  deployment_id: string;
  creative_id: string | null;
  ad_external_id: string;
  impressions: number;
  clicks: number;
  spend_micros: number;
  conversions: number;
  revenue_micros: number;
}

/** A creative: one ad's copy and its rendered assets by format (`video:<id>`, `poster:<id>`). */
export interface Creative {
  id: string;
  campaign_id: string;
  platform: string;
  name: string;
  copy: Partial<CopyVariant>;
  assets: Record<string, string>;
  status: string;
  job_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface ExperimentStats {
  control: { name: string; rate: number; rate_interval: [number, number]; credible_interval: [number, number] };
  variants: {
    name: string;
    rate: number;
    lift: number | null;
    difference_interval: [number, number];
    rate_interval: [number, number];
    z_test: { p_value: number; p_value_holm: number; p_value_bh: number; z?: number };
    bayes: { probability_to_beat_control: number; expected_loss: number; credible_interval: [number, number] };
  }[];
  sample_ratio_mismatch: { statistic: number; p_value: number; suspect: boolean };
  confidence: number;
}

export interface ExperimentFinding {
  experiment: string;
  control: string;
  best_variant: string;
  lift: number | null;
  p_value_holm: number;
  probability_to_beat_control: number;
  sequential_p_value: number | null;
  sample_ratio_mismatch: boolean;
  verdict: 'winner' | 'loser' | 'inconclusive' | 'invalid';
}

export interface CampaignExperiments {
  campaign_id: string;
  findings: ExperimentFinding[];
  narrative: { sentences: string[]; commentary: string | null; source: string };
  experiments: { id: string; name: string; statistics: ExperimentStats; sequential_p_values: (number | null)[] }[];
}
