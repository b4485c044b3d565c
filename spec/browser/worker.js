// A dedicated module worker: the peer runs on `self`.
import { createPeer, MessagePortTransport } from '/treerpc.js'
import { answerPings, makeApi, PEER_OPTIONS } from './api.js'

const peer = createPeer(new MessagePortTransport(self, { ownsPort: false }), {
  ...PEER_OPTIONS,
  expose: makeApi('worker', () => peer),
})
answerPings(peer, 'worker')
