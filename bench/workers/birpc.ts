/** birpc, other side: the bench API over the worker's parentPort or the child's IPC channel. */
import { parentPort } from 'node:worker_threads'
import { createBirpc } from 'birpc'

let received = 0

const api = {
  echo: (value: unknown) => value,
  echoBin: (bytes: Uint8Array) => bytes,
  sink: (_value: unknown) => {
    received++
  },
  count: () => {
    const n = received
    received = 0
    return n
  },
}

export type BirpcBenchApi = typeof api

if (parentPort !== null) {
  const port = parentPort
  createBirpc<Record<string, never>, typeof api>(api, {
    post: (data) => port.postMessage(data),
    on: (fn) => void port.on('message', fn),
  })
} else {
  createBirpc<Record<string, never>, typeof api>(api, {
    post: (data) => void process.send!(data),
    on: (fn) => void process.on('message', fn),
  })
}
