/** vscode-jsonrpc, other side: a MessageConnection over the worker's parentPort or the child's IPC channel. */
import { parentPort } from 'node:worker_threads'
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, PortMessageReader, PortMessageWriter } from 'vscode-jsonrpc/node.js'

let received = 0

const connection =
  parentPort !== null
    ? createMessageConnection(new PortMessageReader(parentPort), new PortMessageWriter(parentPort))
    : createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process))

connection.onRequest('echo', (value: unknown) => value)
connection.onRequest('echoBin', (bytes: unknown) => bytes)
connection.onRequest('count', () => {
  const n = received
  received = 0
  return n
})
connection.onNotification('sink', () => {
  received++
})
connection.listen()
