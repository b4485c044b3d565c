// Joining traces across processes with call metadata: the W3C `traceparent` travels with every call.
// Run: npm run build && node dist/examples/tracing/parent.js
//
// With OpenTelemetry, the meta hook would be `(path) => { const carrier = {}; propagation.inject(context.active(), carrier); return carrier }`
// and the child would `propagation.extract(context.active(), callContext().meta ?? {})`; treerpc itself
// depends on no tracing library.
import { randomBytes } from 'node:crypto'
import { spawnChild } from 'treerpc'
import type { ChildApi } from './child.js'

const traceId = randomBytes(16).toString('hex')

const child = spawnChild<ChildApi>(new URL('./child.js', import.meta.url), {
  hooks: {
    // One new span id per outgoing call, in the current trace.
    meta: () => ({ traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` }),
  },
})
console.log(`parent trace ${traceId}`)
console.log(await child.remote.work('resize'))
console.log(await child.close())
