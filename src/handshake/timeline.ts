/**
 * The handshake timeline (design.md "Handshake timeline"): capture times in µs since the epoch of
 * the first packet that shows each thing, -1 while not seen. Retransmissions never move a point.
 */
export const TIMELINE_POINTS = [
  'syn', 'syn_ack', 'ack', 'client_hello', 'client_hello_end', 'hello_retry_request',
  'client_hello2', 'client_hello2_end', 'server_hello', 'server_flight_end', 'client_ack',
  'client_finished', 'client_flight_end', 'done',
] as const;
export type TimelinePoint = (typeof TIMELINE_POINTS)[number];

export const enum T {
  SYN, SYN_ACK, ACK, CLIENT_HELLO, CLIENT_HELLO_END, HELLO_RETRY_REQUEST, CLIENT_HELLO2,
  CLIENT_HELLO2_END, SERVER_HELLO, SERVER_FLIGHT_END, CLIENT_ACK, CLIENT_FINISHED, CLIENT_FLIGHT_END, DONE, COUNT,
}

/**
 * Indexed by T, -1 = not seen. A plain array, not a Float64Array: 14 doubles are over V8's limit for
 * typed arrays on the heap (64 bytes), so a Float64Array per flow was an off-heap ArrayBuffer each
 * (allocated, tracked and finalised by the GC: issue 13's dense profile had newTimeline at 4%).
 */
export type Timeline = number[];

export function newTimeline(): Timeline {
  // Double elements from the start (the literal's 0.5 makes it so): every value a flow stores is a
  // µs timestamp, not a small integer, and a literal of -1s turned into double elements at the
  // first one, a second backing store per flow (issue 13).
  const tl = [0.5, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
  tl[0] = -1;
  return tl;
}
