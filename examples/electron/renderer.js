// Renderer (the page): a standard MessagePort, so the web build of treerpc is all it needs.
import { createPeer, MessagePortTransport } from 'treerpc/web'

window.addEventListener('message', (event) => {
  if (event.source !== window || event.data !== 'treerpc:port' || event.ports.length !== 1) return
  const main = createPeer(new MessagePortTransport(event.ports[0]), {
    expose: { page: { title: () => document.title } },
  })
  main.remote.fs.home().then((home) => (document.body.textContent = `home: ${home}`))
})
