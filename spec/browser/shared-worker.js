// A module SharedWorker: one peer per connecting page, on the port it connected with.
import { createPeer, MessagePortTransport } from '/treerpc.js'
import { answerPings, makeApi, PEER_OPTIONS } from './api.js'

self.addEventListener('connect', (event) => {
  const peer = createPeer(new MessagePortTransport(event.ports[0]), {
    ...PEER_OPTIONS,
    expose: makeApi('shared-worker', () => peer),
  })
  answerPings(peer, 'shared-worker')
})
