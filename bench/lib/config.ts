// How big each scenario runs in each mode. `quick` finishes in about 27 minutes on a 2-core machine.

export interface BenchConfig {
  mode: string;
  /**
   * After linking many sessions, wait for the host to give the burst's memory back (bench/lib/give-back.ts)
   * before measuring, as a deployment runs long after its linking.
   */
  awaitGiveBack: boolean;
  api: {
    /** Requests per second of the fixed-rate run. */
    fixedRate: number;
    fixedSeconds: number;
    saturationSeconds: number;
    /** Connections of the saturation run (the fixed-rate run uses a fifth of them). */
    connections: number;
    /** Before the fixed-rate runs, at that rate. */
    warmupSeconds: number;
    /** Before the saturation runs, at saturation. */
    saturationWarmupSeconds: number;
    /**
     * Before each fixed-rate round of each path, at the rate, on the connections it measures with,
     * untimed: with the paths taking turns, each round began on processes idle for the others' rounds,
     * and most rounds through the edge stalled 10–30 ms in their first 150 ms.
     */
    leadInSeconds: number;
    /**
     * Each measured run is split into this many rounds, the edge, the direct call and the bare proxy
     * taking turns (the figures are medians): measured one after another once each, a drift of the
     * machine fell on one of them.
     */
    rounds: number;
    /** Smoke: a fixed number of requests per run instead of durations. */
    amount?: number;
  };
  send: {
    /** Linked sessions per run; the largest number is linked once and the smaller runs use a prefix. */
    sessions: number[];
    /** Messages each session sends in the run with that many sessions. */
    messagesPerSession: (sessions: number) => number;
    /** Sends in flight per session (a customer's backend sending concurrently). */
    inflightPerSession: number;
    /**
     * Every path's runs are repeated this many times, the paths taking turns (the figures are medians):
     * one run of each, minutes apart, moved 30–40% with the machine.
     */
    rounds: number;
    /** The run (one of `sessions`) whose CPU is broken down by path: raw, raw + check, host, edge. */
    breakdownSessions: number;
    deliveryTimeoutMs: number;
    /**
     * Sent, untimed, through each path before its measured runs: the first messages of a process run
     * cold (JIT, caches, prepared statements), and so do a socket's first sends (its own devices, its
     * first look-ups), ours and the baselines alike; every session of the largest run takes part.
     */
    warmup: { sessions: number; messagesPerSession: number };
  };
  memory: {
    /** Linked idle sessions on one host, measured incrementally in one process. */
    sessions: number[];
    /** Quiet time after linking, once the process is idle, before memory is read. */
    settleMs: number;
    linkConcurrency: number;
  };
  /**
   * Images of `bytes` each, sent by `sessions` sessions, `perSession` each, `inflight` at a time, after
   * `warmupPerSession` each, untimed.
   */
  media: {
    sessions: number;
    perSession: number;
    warmupPerSession: number;
    bytes: number;
    inflight: number;
    deliveryTimeoutMs: number;
  };
  pairing: { sessions: number };
  cold: { runs: number };
  /**
   * Linked sessions on the host that is killed, and HOST_LEASE_SECONDS of the hosts (unset: the
   * default, what users run).
   */
  failover: { sessions: number; leaseSeconds?: number; timeoutMs: number };
  events: {
    /** Linked sessions per burst run; the largest number is linked once and smaller runs use a prefix. */
    sessions: number[];
    /** Messages each session receives (from its own contact) in the burst run with that many sessions. */
    messagesPerSession: (sessions: number) => number;
    /** Sends in flight per contact during a burst (as fast as the simulator takes them). */
    inflightPerContact: number;
    /** The steady run: messages per second over all the sessions of the largest run, and how many. */
    steadyRate: number;
    steadyMessages: number;
    /** How long to wait for the last webhook (or upsert) of a run. */
    timeoutMs: number;
  };
}

export const QUICK: BenchConfig = {
  mode: 'quick',
  awaitGiveBack: true,
  api: {
    fixedRate: 500,
    fixedSeconds: 9,
    saturationSeconds: 12,
    connections: 50,
    warmupSeconds: 2,
    saturationWarmupSeconds: 15,
    leadInSeconds: 1,
    rounds: 3,
  },
  send: {
    sessions: [1, 10, 50],
    // As many as the full run: shorter runs (a second or less) measured mostly each contact's first
    // message, which sets up its Signal session, and whatever the machine did in that second.
    messagesPerSession: (n) => (n === 1 ? 1000 : n <= 10 ? 200 : 60),
    inflightPerSession: 4,
    // As many as the full run: within one run of three, one path's rounds moved 30–50% with the machine
    // (raw in memory, 10 sessions: 782, 1,159 and 1,541 msg/s), and a median of three followed one of them.
    rounds: 5,
    breakdownSessions: 10,
    deliveryTimeoutMs: 120_000,
    warmup: { sessions: 50, messagesPerSession: 4 },
  },
  memory: { sessions: [50, 200, 500], settleMs: 2_000, linkConcurrency: 16 },
  media: {
    sessions: 2,
    perSession: 8,
    warmupPerSession: 8,
    bytes: 1024 * 1024,
    inflight: 2,
    deliveryTimeoutMs: 120_000,
  },
  pairing: { sessions: 7 },
  cold: { runs: 1 },
  failover: { sessions: 100, timeoutMs: 120_000 },
  events: {
    sessions: [1, 10],
    messagesPerSession: (n) => (n === 1 ? 400 : 50),
    inflightPerContact: 4,
    steadyRate: 20,
    steadyMessages: 160,
    timeoutMs: 120_000,
  },
};

export const FULL: BenchConfig = {
  mode: 'full',
  awaitGiveBack: true,
  api: {
    fixedRate: 500,
    fixedSeconds: 30,
    saturationSeconds: 20,
    connections: 50,
    warmupSeconds: 5,
    saturationWarmupSeconds: 20,
    leadInSeconds: 1,
    rounds: 3,
  },
  send: {
    sessions: [1, 10, 50],
    messagesPerSession: (n) => (n === 1 ? 1000 : n <= 10 ? 200 : 60),
    inflightPerSession: 4,
    rounds: 5,
    breakdownSessions: 10,
    deliveryTimeoutMs: 300_000,
    warmup: { sessions: 50, messagesPerSession: 10 },
  },
  memory: { sessions: [50, 200, 500], settleMs: 10_000, linkConcurrency: 16 },
  media: {
    sessions: 4,
    perSession: 20,
    warmupPerSession: 8,
    bytes: 1024 * 1024,
    inflight: 2,
    deliveryTimeoutMs: 300_000,
  },
  pairing: { sessions: 31 },
  cold: { runs: 5 },
  failover: { sessions: 100, timeoutMs: 120_000 },
  events: {
    sessions: [1, 10, 50],
    messagesPerSession: (n) => (n === 1 ? 600 : n <= 10 ? 120 : 24),
    inflightPerContact: 4,
    steadyRate: 20,
    steadyMessages: 400,
    timeoutMs: 300_000,
  },
};

/** Tiny numbers for the smoke test: the code paths run, the figures mean nothing. */
export const SMOKE: BenchConfig = {
  mode: 'smoke',
  awaitGiveBack: false,
  api: {
    fixedRate: 50,
    fixedSeconds: 1,
    saturationSeconds: 1,
    connections: 5,
    warmupSeconds: 0,
    saturationWarmupSeconds: 0,
    leadInSeconds: 0,
    rounds: 1,
    amount: 20,
  },
  send: {
    sessions: [1],
    messagesPerSession: () => 3,
    inflightPerSession: 1,
    rounds: 1,
    breakdownSessions: 1,
    deliveryTimeoutMs: 60_000,
    warmup: { sessions: 1, messagesPerSession: 1 },
  },
  memory: { sessions: [1], settleMs: 0, linkConcurrency: 1 },
  media: {
    sessions: 1,
    perSession: 2,
    warmupPerSession: 1,
    bytes: 64 * 1024,
    inflight: 1,
    deliveryTimeoutMs: 60_000,
  },
  pairing: { sessions: 1 },
  cold: { runs: 1 },
  failover: { sessions: 2, leaseSeconds: 2, timeoutMs: 60_000 },
  events: {
    sessions: [1],
    messagesPerSession: () => 3,
    inflightPerContact: 1,
    steadyRate: 20,
    steadyMessages: 4,
    timeoutMs: 60_000,
  },
};
