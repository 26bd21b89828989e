/**
 * The identifiers a PromQL expression uses, for the fleet tests that check a rule file and a
 * Grafana dashboard against what the daemon really exports: metric names (and recording-rule
 * names, which contain colons), label matchers with the selector they belong to, and the labels of
 * `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` lists. Not a parser: a tokenizer good
 * for the expressions PromQL's grammar allows (strings and ranges are taken out first, so a regex
 * or a Grafana variable inside them is never read as a name).
 *
 * Also the two other readers those tests need: a Prometheus text scrape as name → label names, and
 * the rules of a Prometheus rule file (written as deploy/prometheus/slowshake.rules.yml is:
 * `- record:`/`- alert:` items with `expr:` on one line or as a `|` block).
 */

export interface PromqlUses {
  /** Metric and recording-rule names. */
  metrics: string[];
  /** Label matchers: the selector's metric (null for a bare `{…}`) and the label. */
  matchers: { metric: string | null; label: string }[];
  /** Labels of grouping and vector-matching lists. */
  grouping: string[];
}

const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);
const NAME = /(?<![\w:.$])([a-zA-Z_:][\w:]*)/g;

/** The metric names, label matchers and grouping labels `expr` uses. */
export function promqlUses(expr: string): PromqlUses {
  // 1. Strings become "" (matcher values, regexes, Grafana variables like "$instance").
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  // 2. Comments, then range and subquery brackets ([5m], [$__rate_interval], [1h:1m]).
  s = s.replace(/#[^\n]*/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  // 3. Selectors' matchers, with the metric name before the brace (if any).
  const matchers: PromqlUses['matchers'] = [];
  s = s.replace(/(?<![\w:.$])([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g, (_all, name: string | undefined, body: string) => {
    const metric = name !== undefined && !KEYWORDS.has(name) ? name : null; // `unless {…}`: a bare selector after a keyword
    for (const m of body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*""/g)) matchers.push({ metric, label: m[1]! });
    return ` ${name ?? ''} `;
  });
  // 4. Grouping and vector-matching label lists.
  const grouping: string[] = [];
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _kw: string, list: string) => {
    for (const l of list.split(',').map((x) => x.trim()).filter(Boolean)) grouping.push(l);
    return ' ';
  });
  // 5. What is left: a name followed by "(" is a function; aggregators and keywords are not metrics.
  const metrics = new Set<string>();
  for (const m of s.matchAll(NAME)) {
    const name = m[1]!;
    const after = s.slice(m.index! + name.length);
    if (/^\s*\(/.test(after) || AGGREGATORS.has(name) || KEYWORDS.has(name)) continue;
    metrics.add(name);
  }
  return { metrics: [...metrics], matchers, grouping };
}

/** A Prometheus text scrape as metric (sample) name → the label names its samples carry. */
export function scrapeLabels(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+\S+/.exec(line);
    if (!m) continue;
    const set = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) set.add(l[1]!);
    out.set(m[1]!, set);
  }
  return out;
}

export interface RuleEntry { kind: 'record' | 'alert'; name: string; expr: string }

/** The rules of a rule file in the layout of deploy/prometheus/slowshake.rules.yml. */
export function ruleEntries(yaml: string): RuleEntry[] {
  const lines = yaml.split('\n');
  const out: RuleEntry[] = [];
  let cur: RuleEntry | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const item = /^\s*- (record|alert):\s*(\S+)\s*$/.exec(line);
    if (item) { cur = { kind: item[1] as 'record' | 'alert', name: item[2]!, expr: '' }; out.push(cur); continue; }
    const e = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!e || cur === null) continue;
    if (e[2] !== '|' && e[2] !== '|-') { cur.expr = e[2]!.replace(/^'(.*)'$/, '$1'); continue; }
    const indent = e[1]!.length;
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent)) body.push(lines[++i]!);
    cur.expr = body.join('\n').trim();
  }
  return out;
}
