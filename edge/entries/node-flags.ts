// The Node.js flags the edge's own process runs with (`npm run edge`, and the bench's edge; a test holds
// package.json to this list). V8 grows the young generation up to 128 MiB under a steady request load and
// keeps it, though an edge's garbage dies young and little survives a request: capped at 8 MiB
// semi-spaces, an edge that served tens of thousands of requests stays near its idle size (about 40 MiB
// less) for a few more minor GCs.
export const EDGE_NODE_FLAGS = ['--max-semi-space-size=8'] as const;
