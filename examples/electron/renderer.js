// Renderer (the page): a standard MessagePort, so the web build of treerpc is all it needs.
import { createPeer, MessagePortTransport } from 'treerpc/web'

/** What the page exposes to main. */
const pageApi = { page: { title: () => document.title } }
/** @typedef {typeof pageApi} PageApi */
/** @typedef {typeof import('./main.js').mainApi} MainApi */

window.addEventListener('message', (event) => {
  if (event.source !== window || event.data !== 'treerpc:port' || event.ports.length !== 1) return
  /** @type {import('treerpc/web').Peer<MainApi>} */
  const main = createPeer(new MessagePortTransport(event.ports[0]), { expose: pageApi })
  main.remote.fs.home().then((home) => (document.body.textContent = `home: ${home}`))
})
