// An Electron renderer (or preload), typed by electron.d.ts and lib.dom: the port main sends
// arrives as `event.ports[0]` and fits the standard MessagePortTransport with no cast.
import type { IpcRendererEvent } from 'electron'
import { createPeer, MessagePortTransport } from 'treerpc/web'

export function onPort(event: IpcRendererEvent): void {
  const port = event.ports[0]
  if (port !== undefined) createPeer(new MessagePortTransport(port))
}

// The check is real: an IpcRendererEvent is not itself a port.
export function misuse(event: IpcRendererEvent): void {
  // @ts-expect-error an IpcRendererEvent is not a MessagePort
  new MessagePortTransport(event)
}
