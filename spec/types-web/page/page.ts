// A browser page, typed by lib.dom only: every standard MessagePort-like endpoint it has fits
// MessagePortTransport with no cast.
import { createPeer, MessagePortTransport, type StandardMessagePort } from 'treerpc/web'

// A MessagePort from a MessageChannel.
const { port1 } = new MessageChannel()
createPeer(new MessagePortTransport(port1))

// A dedicated Worker (it has no close(): the page terminates it when done).
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
createPeer(new MessagePortTransport(worker, { ownsPort: false }))

// A port handed over by an iframe (or a preload) through window.postMessage.
window.addEventListener('message', (event) => {
  const port = event.ports[0]
  if (port !== undefined) createPeer(new MessagePortTransport(port))
})

// A SharedWorker's port.
const shared: StandardMessagePort = new SharedWorker('./shared.js').port
createPeer(new MessagePortTransport(shared))

// The check is real: what is not a port does not compile.
// @ts-expect-error a number is not a MessagePort
new MessagePortTransport(42)
