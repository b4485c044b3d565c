// An iframe: the page hands it one end of a MessageChannel; the peer runs on that port.
import { createPeer, MessagePortTransport } from '/treerpc.js'
import { answerPings, makeApi, PEER_OPTIONS } from './api.js'

window.addEventListener('message', (event) => {
  if (event.source !== window.parent || event.data !== 'treerpc-port' || event.ports.length !== 1) return
  const peer = createPeer(new MessagePortTransport(event.ports[0]), {
    ...PEER_OPTIONS,
    expose: makeApi('iframe', () => peer),
  })
  answerPings(peer, 'iframe')
})
