// The child side of examples/tracing: a handler reads the caller's traceparent from its call context.
import { callContext, connectParent } from 'treerpc'

const api = {
  work(task: string): string {
    const traceparent = String(callContext().meta?.traceparent ?? '')
    const [, traceId, parentSpan] = traceparent.split('-')
    return `child did "${task}" in trace ${traceId}, as a child of span ${parentSpan}`
  },
}
export type ChildApi = typeof api

connectParent({ expose: api })
