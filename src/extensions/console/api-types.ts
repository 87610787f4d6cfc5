/** The console API's answers, shared by the server, the web console and the CLI. */

/** A log record as the API answers it. */
export interface ApiLog {
  timestamp: string;
  observed_timestamp: string;
  trace_id: string;
  span_id: string;
  trace_flags: number;
  severity_text: string;
  severity_number: number;
  service_name: string;
  body: string;
  resource_attributes: Record<string, string>;
  scope_name: string;
  scope_version: string;
  scope_attributes: Record<string, string>;
  log_attributes: Record<string, string>;
  template_id: string;
  current_template_id: string;
  template: string | null;
  template_params: string[];
}

export interface ApiTemplate {
  id: string;
  text: string;
  count: number;
  previous_count: number;
  /** (count - previous_count) / previous_count; null when previous_count is 0. */
  change: number | null;
  first_seen: string | null;
  last_seen: string | null;
  new: boolean;
  services: string[];
  max_severity: string;
  source: 'miner' | 'llm';
  sample: string;
  lineage: string[];
  series: number[];
}

export interface ParamDistribution {
  position: number;
  distinct: number;
  top: Array<{ value: string; count: number; share: number }>;
}
