/** treerpc, other side: the bench API exposed with connectParent (worker thread or forked child alike). */
import { connectParent, transfer } from '../../lib/index.js'

let received = 0

const api = {
  echo: (value: unknown) => value,
  /** Moves the bytes back (over worker channels; IPC copies whatever the mark says). */
  echoBin: (bytes: Uint8Array) => transfer(bytes, [bytes.buffer as ArrayBuffer]),
  sink: (_value: unknown) => {
    received++
  },
  count: () => {
    const n = received
    received = 0
    return n
  },
  /** For the leak check: this side's peer counters and heap after a full GC (when --expose-gc reached it). */
  stats: () => {
    ;(globalThis as { gc?: () => void }).gc?.()
    return { ...parent.stats, heapUsed: process.memoryUsage().heapUsed }
  },
}

export type TreerpcBenchApi = typeof api

const parent = connectParent({ expose: api })
parent.on('tick', () => {
  received++
})
