// A dedicated worker, typed by lib.webworker only: its global scope `self` fits
// MessagePortTransport with no cast, and so does a port it receives.
import { createPeer, MessagePortTransport } from 'treerpc/web'

declare const self: DedicatedWorkerGlobalScope

// `self` is the worker's end of the channel to the page; closing it would end the worker.
createPeer(new MessagePortTransport(self, { ownsPort: false }), {
  expose: { square: (n: number) => n * n },
})

// A port the page sends later.
self.addEventListener('message', (event) => {
  const port = event.ports[0]
  if (port !== undefined) createPeer(new MessagePortTransport(port))
})

// The check is real: what is not a port does not compile.
// @ts-expect-error a string is not a MessagePort
new MessagePortTransport('self')
