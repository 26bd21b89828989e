/**
 * The [alerts] section and [[alerts.rule]] tables: defaults, normalisation, the shipped rules and
 * their replacement by name, and one-line errors naming the key (issue 12; style: config errors
 * name the key and the value).
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { resolveConfig, reloadable } from '../../../src/config/merge.js';
import { layerFromFlags } from '../../../src/config/flags.js';
import { DEFAULT_RULES, effectiveRules } from '../../../src/alert/rules.js';
import { expectOneLineError, runCli } from '../../helpers/cli.js';

const load = (text: string) => resolveConfig(parseConfigText(text, 'a.toml'));
const err = (text: string): string => {
  try { load(text); } catch (e) { return (e as Error).message; }
  throw new Error('no error');
};

describe('[alerts] configuration', () => {
  it('defaults: no sinks, the shipped rules, every kind among them', () => {
    const c = load('');
    expect(c.alerts).toMatchObject({ alertmanagers: [], webhooks: [], evaluateEveryMs: 5000, resendEveryMs: 60_000, defaultRules: true, rules: [] });
    const rules = effectiveRules(c.alerts.defaultRules, c.alerts.rules);
    expect(rules.map((r) => r.name)).toEqual(DEFAULT_RULES.map((r) => r.name));
    expect(new Set(rules.map((r) => r.kind))).toEqual(new Set(['rate', 'baseline', 'health']));
    expect(rules.filter((r) => r.kind === 'health').map((r) => (r as { check: string }).check).sort()).toEqual(['drops', 'evidence_failures', 'journal_lag', 'ring_reach']);
  });

  it('a rule table is normalised (durations, defaults, alertname), replaces a shipped rule of its name, and enabled = false turns one off', () => {
    const c = load([
      '[alerts]', 'alertmanagers = ["http://am1:9093", "http://am2:9093"]', 'evaluate_every = "2s"',
      '[[alerts.rule]]', 'name = "slow_network"', 'kind = "rate"', 'verdict = "network"', 'per_minute = 60', 'window = "10m"', 'for = "15m"', 'labels = { team = "edge" }',
      '[[alerts.rule]]', 'name = "journal_lag"', 'kind = "health"', 'check = "journal_lag"', 'enabled = false',
      '[[alerts.rule]]', 'name = "srtt"', 'kind = "baseline"', 'rise_percent = 80',
    ].join('\n'));
    expect(c.alerts.alertmanagers).toEqual(['http://am1:9093', 'http://am2:9093']);
    expect(c.alerts.evaluateEveryMs).toBe(2000);
    const rules = effectiveRules(c.alerts.defaultRules, c.alerts.rules);
    const net = rules.find((r) => r.name === 'slow_network')!;
    expect(net).toMatchObject({ kind: 'rate', alertname: 'SlowshakeSlowNetwork', perMinute: 60, windowMs: 600_000, forMs: 900_000, perNetwork: false, adaptive: false, labels: { team: 'edge' }, severity: 'warning' });
    expect(rules.some((r) => r.name === 'journal_lag')).toBe(false);
    expect(rules.find((r) => r.name === 'srtt')).toMatchObject({ kind: 'baseline', phase: 'tcp_rtt', risePercent: 80, minRiseMs: 10, minSamples: 20, adaptive: true });
    expect(rules).toHaveLength(DEFAULT_RULES.length); // one replaced, one off, one added
    expect(effectiveRules(false, c.alerts.rules).map((r) => r.name)).toEqual(['slow_network', 'srtt']);
  });

  it.each([
    ['a rule without a rate', '[[alerts.rule]]\nname = "x"\nkind = "rate"', 'a.toml: alerts.rule[0].per_minute: expected a number above 0 up to 1000000000 (fractions allowed), got nothing'],
    ['a negative threshold', '[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = -1', 'a.toml: alerts.rule[0].per_minute: expected a number above 0 up to 1000000000 (fractions allowed), got -1'],
    ['a bare number as `for`', '[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1\nfor = 60', 'a.toml: alerts.rule[0].for: expected a duration such as 250ms, 2s, 10m, 1h or 7d (a string with its unit), got 60'],
    ['two rules of one name', '[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1\n[[alerts.rule]]\nname = "x"\nkind = "health"\ncheck = "drops"', 'a.toml: alerts.rule[1].name: expected a rule name not used by another [[alerts.rule]], got "x"'],
    ['an unknown key in a rule', '[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1\nthreshold = 3', 'a.toml: alerts.rule[0].threshold: unknown key'],
    ['a label name Prometheus refuses', '[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1\nlabels = { "team-a" = "edge" }', 'a.toml: alerts.rule[0].labels.team-a'],
    ['a URL that is not http', '[alerts]\nalertmanagers = ["am:9093"]', 'a.toml: alerts.alertmanagers[0]: expected an http:// or https:// URL such as http://127.0.0.1:9093, got "am:9093"'],
    ['an unknown health check', '[[alerts.rule]]\nname = "x"\nkind = "health"\ncheck = "cpu"', 'a.toml: alerts.rule[0].check: expected one of "drops", "ring_reach", "journal_lag", "evidence_failures", got "cpu"'],
  ])('%s: one line naming the key', (_what, text, msg) => {
    const m = err(text);
    expect(m.split('\n')).toHaveLength(1);
    expect(m.startsWith(msg), m).toBe(true);
  });

  it('--alertmanager and --alert-webhook are repeatable twins; a bad one names the flag', () => {
    const l = layerFromFlags({ alertmanager: ['http://a:9093', 'http://b:9093'], 'alert-webhook': ['https://hooks.example/x'] });
    expect(l.alerts).toEqual({ alertmanagers: ['http://a:9093', 'http://b:9093'], webhooks: ['https://hooks.example/x'] });
    expectOneLineError(runCli(['watch', '-i', 'lo', '--alertmanager', 'localhost:9093']), /^slowshake: --alertmanager: expected an http:\/\/ or https:\/\/ URL such as http:\/\/127\.0\.0\.1:9093, got "localhost:9093"$/);
  });

  it('a reload names changed rules as applied live', () => {
    const a = load('[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1');
    const b = load('[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 2');
    expect(reloadable(a, b)).toEqual({ live: ['alerts.rule'], restart: [] });
    expect(reloadable(a, load('[alerts]\nalertmanagers = ["http://a:1"]\n[[alerts.rule]]\nname = "x"\nkind = "rate"\nper_minute = 1'))).toEqual({ live: [], restart: ['alerts.alertmanagers'] });
  });
});
