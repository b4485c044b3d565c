/** comlink, other side: `expose` of the bench API on the worker's parentPort or the child's IPC channel. */
import { parentPort } from 'node:worker_threads'
import * as Comlink from 'comlink'
import { ipcEndpoint, portEndpoint } from '../adapters.js'

let received = 0

const api = {
  echo: (value: unknown) => value,
  echoBin: (bytes: Uint8Array) => Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]),
  sink: (_value: unknown) => {
    received++
  },
  count: () => {
    const n = received
    received = 0
    return n
  },
}

Comlink.expose(api, parentPort !== null ? portEndpoint(parentPort) : ipcEndpoint(process))
