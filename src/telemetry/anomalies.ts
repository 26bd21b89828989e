/**
 * Named anomaly counters (Zeek "weirds"): every malformed, truncated or skipped packet bumps one
 * counter with a stable snake_case name scoped by layer. Counting is a typed-array increment on
 * the hot path; names are only materialised for reports.
 */
export const enum Anomaly {
  TRUNCATED_LINK_HEADER,
  UNSUPPORTED_LINK_TYPE,
  NON_IP_PACKET,
  TRUNCATED_IP_HEADER,
  BAD_IP_VERSION,
  BAD_IP_HEADER_LENGTH,
  BAD_IP_TOTAL_LENGTH,
  IP_FRAGMENT,
  TRUNCATED_IPV6_EXTENSION,
  NON_TCP_PACKET,
  TRUNCATED_TCP_HEADER,
  BAD_TCP_DATA_OFFSET,
  BAD_TCP_OPTION,
  TRUNCATED_TCP_PAYLOAD,
  BAD_TLS_RECORD,
  BAD_TLS_HANDSHAKE,
  TLS_MESSAGE_TOO_LARGE,
  REASSEMBLY_BUDGET_EXCEEDED,
  OUT_OF_ORDER_BUFFER_FULL,
  FLOW_TABLE_FULL,
  UNTRACKED_SEGMENT,
  TOO_MANY_VLAN_TAGS,
  TOO_MANY_IPV6_EXTENSIONS,
  /** A flow with more open sequence holes than the loss timer keeps (tcp-stream.ts MAX_HOLES). */
  TOO_MANY_SEQUENCE_HOLES,
  /**
   * A packet without payload more than ±35 min from its flow's first, before any payload: the
   * flow's fixed-size pre-payload state cannot time it, so that state ends and the packet may
   * start a new flow (handshake/pre-tls.ts PRE_STALE). Only capture files jump like that.
   */
  PRE_TLS_TIME_JUMP,
  COUNT,
}

export const ANOMALY_NAMES: readonly string[] = [
  'truncated_link_header',
  'unsupported_link_type',
  'non_ip_packet',
  'truncated_ip_header',
  'bad_ip_version',
  'bad_ip_header_length',
  'bad_ip_total_length',
  'ip_fragment',
  'truncated_ipv6_extension',
  'non_tcp_packet',
  'truncated_tcp_header',
  'bad_tcp_data_offset',
  'bad_tcp_option',
  'truncated_tcp_payload',
  'bad_tls_record',
  'bad_tls_handshake',
  'tls_message_too_large',
  'reassembly_budget_exceeded',
  'out_of_order_buffer_full',
  'flow_table_full',
  'untracked_segment',
  'too_many_vlan_tags',
  'too_many_ipv6_extensions',
  'too_many_sequence_holes',
  'pre_tls_time_jump',
];

/**
 * Which anomalies mean "this packet was malformed" (counted as malformed and skipped) as opposed
 * to "not something we analyse" (skipped, counted separately) or flow-level events.
 */
export const MALFORMED_ANOMALIES: ReadonlySet<string> = new Set([
  'truncated_link_header',
  'truncated_ip_header',
  'bad_ip_version',
  'bad_ip_header_length',
  'bad_ip_total_length',
  'truncated_ipv6_extension',
  'truncated_tcp_header',
  'bad_tcp_data_offset',
  'bad_tcp_option',
  'too_many_ipv6_extensions',
]);

export class AnomalyCounters {
  readonly counts = new Float64Array(Anomaly.COUNT);

  bump(a: Anomaly): void {
    this.counts[a]!++;
  }

  /** Non-zero counters by name, for summaries. */
  toObject(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < Anomaly.COUNT; i++) if (this.counts[i]! > 0) out[ANOMALY_NAMES[i]!] = this.counts[i]!;
    return out;
  }

  malformedTotal(): number {
    let n = 0;
    for (let i = 0; i < Anomaly.COUNT; i++) if (MALFORMED_ANOMALIES.has(ANOMALY_NAMES[i]!)) n += this.counts[i]!;
    return n;
  }
}
