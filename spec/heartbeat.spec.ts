/**
 * The heartbeat (option `heartbeat`): a peer whose other side falls silent closes within the
 * heartbeat's timeout, rejecting pending calls with ChannelClosedError; while messages flow it sends
 * nothing; an idle side that answers pings stays open. On by default over a web MessagePort only.
 */
import { expect } from 'chai'
import { inspect } from 'node:util'
import * as sinon from 'sinon'
import { ChannelClosedError, type CloseInfo, createMemoryPair, createPeer, ErrorCode, MessagePortTransport, type Peer, RpcError } from '../lib/index.js'
import { pair, rejection, track } from './helpers.js'

const FAST = { interval: 20, timeout: 60 }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A trace hook that collects messages, and the pings among them. */
function tracer() {
  const seen: { direction: 'in' | 'out'; message: any }[] = []
  return {
    trace: (direction: 'in' | 'out', message: unknown) => {
      for (const each of Array.isArray(message) ? message : [message]) seen.push({ direction, message: each })
    },
    pingsSent: () => seen.filter(({ direction, message }) => direction === 'out' && message.method === 'rpc.ping').length,
    pingRepliesReceived: () => seen.filter(({ direction, message }) => direction === 'in' && typeof message.id === 'string' && message.id.startsWith('ping:') && message.method === undefined),
  }
}

describe('heartbeat', () => {
  it('closes the peer and rejects pending calls with ChannelClosedError once the other side falls silent', async () => {
    const { left, right, rightTransport } = pair({ heartbeat: FAST }, { expose: { echo: (x: unknown) => x } })
    await Promise.all([left.ready, right.ready])
    const closes: CloseInfo[] = []
    left.on('close', (info) => closes.push(info))
    // The right side receives nothing from now on, so it answers nothing: as a terminated worker.
    rightTransport.pause()
    const started = Date.now()
    const error = await rejection(left.remote.echo(1))
    const elapsed = Date.now() - started
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.message).to.match(/stopped answering \(no message for \d+ ms; heartbeat\)/)
    expect(left.state).to.equal('closed')
    expect(closes).to.have.length(1)
    expect(closes[0]!.reason).to.match(/heartbeat/)
    // timeout + interval, give or take a slow timer.
    expect(elapsed).to.be.below(FAST.timeout + FAST.interval + 400)
    expect(left.stats.pending).to.equal(0)
  })

  it('sends no ping while calls flow', async () => {
    const trace = tracer()
    const { left, right } = pair({ heartbeat: FAST, trace: trace.trace }, { expose: { echo: (x: unknown) => x } })
    await Promise.all([left.ready, right.ready])
    const until = Date.now() + 5 * FAST.timeout
    let calls = 0
    while (Date.now() < until) {
      await left.remote.echo(calls++)
    }
    expect(calls).to.be.above(10)
    expect(trace.pingsSent()).to.equal(0)
    expect(left.state).to.equal('open')
  })

  it('pings an idle side that answers, and stays open over several timeouts', async () => {
    const trace = tracer()
    const { left, right } = pair({ heartbeat: FAST, trace: trace.trace })
    await Promise.all([left.ready, right.ready])
    await sleep(5 * FAST.timeout)
    expect(left.state).to.equal('open')
    expect(right.state).to.equal('open')
    expect(trace.pingsSent()).to.be.at.least(3)
    const replies = trace.pingRepliesReceived()
    expect(replies.length).to.be.at.least(2)
    for (const { message } of replies) expect(message.result).to.equal(true)
    // Ping replies are neither late nor unknown replies.
    expect(left.stats.dropped).to.equal(0)
    expect(right.stats.dropped).to.equal(0)
  })

  it('keeps both sides open when both run a heartbeat and sit idle', async () => {
    const { left, right } = pair({ heartbeat: FAST }, { heartbeat: FAST })
    await Promise.all([left.ready, right.ready])
    await sleep(5 * FAST.timeout)
    expect([left.state, right.state]).to.deep.equal(['open', 'open'])
    expect([left.stats.dropped, right.stats.dropped]).to.deep.equal([0, 0])
  })

  it('stops with the peer: a closed peer sends no more pings', async () => {
    const trace = tracer()
    const { left, right } = pair({ heartbeat: FAST, trace: trace.trace })
    await Promise.all([left.ready, right.ready])
    await left.close()
    const before = trace.pingsSent()
    await sleep(3 * FAST.interval)
    expect(trace.pingsSent()).to.equal(before)
  })

  it('counts a plain JSON-RPC peer answering -32601 as alive, and drops none of its replies', async () => {
    const [transport, raw] = createMemoryPair()
    let pings = 0
    raw.onMessage((message: any) => {
      if (message.id === undefined) return
      if (message.method === 'rpc.ping') pings++
      raw.send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: `Method not found: ${message.method}` } })
    })
    const peer = track(createPeer(transport, { handshake: false, heartbeat: FAST }))
    await sleep(5 * FAST.timeout)
    expect(peer.state).to.equal('open')
    expect(pings).to.be.at.least(3)
    expect(peer.stats.dropped).to.equal(0)
  })

  it('answers rpc.ping with true, without a handler or the fallback', async () => {
    const [transport, raw] = createMemoryPair()
    const replies: any[] = []
    raw.onMessage((message) => replies.push(message))
    const fallback = sinon.spy()
    const peer = track(createPeer(transport, { handshake: false, heartbeat: false }))
    peer.fallback(fallback)
    raw.send({ jsonrpc: '2.0', id: 'p1', method: 'rpc.ping' })
    await sleep(10)
    expect(replies).to.deep.equal([{ jsonrpc: '2.0', id: 'p1', result: true }])
    expect(fallback.called).to.equal(false)
  })

  describe('defaults', () => {
    let clock: sinon.SinonFakeTimers | undefined
    const peers: Peer[] = []

    beforeEach(() => {
      // Only the heartbeat's timer is faked: channels still deliver in real time.
      clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    })

    afterEach(async () => {
      // Closed before the clock goes, so that their (fake) timers are cleared by the fake clock.
      for (const peer of peers.splice(0)) await peer.close()
      clock?.restore()
      clock = undefined
    })

    /** Two peers over a web-standard MessageChannel (Node's global one), the first traced. */
    async function overMessagePort(heartbeat?: boolean) {
      // The global (web-standard) one, as spec/message-port.spec.ts names it.
      const { port1, port2 } = new globalThis.MessageChannel()
      const trace = tracer()
      const a = createPeer(new MessagePortTransport(port1), { trace: trace.trace, ...(heartbeat === undefined ? {} : { heartbeat }) })
      const b = createPeer(new MessagePortTransport(port2))
      peers.push(a, b)
      await Promise.all([a.ready, b.ready])
      return { a, b, trace }
    }

    it('is on over a MessagePort (which reports no close), with a 5000 ms interval', async () => {
      const { a, b, trace } = await overMessagePort()
      // The first tick sees the handshake; the next finds silence and pings.
      clock!.tick(4999)
      clock!.tick(1)
      expect(trace.pingsSent()).to.equal(0)
      clock!.tick(4999)
      expect(trace.pingsSent()).to.equal(0)
      clock!.tick(1)
      expect(trace.pingsSent()).to.equal(1)
      // The other side answers in real time.
      await b.remote.nothing().catch(() => {})
      expect(trace.pingRepliesReceived()).to.have.length(1)
      expect(a.state).to.equal('open')
    })

    it('is off over a MessagePort with heartbeat: false', async () => {
      const { trace } = await overMessagePort(false)
      clock!.tick(60_000)
      expect(trace.pingsSent()).to.equal(0)
    })

    it('is off over a memory pair, and on there with heartbeat: true', async () => {
      const off = tracer()
      const on = tracer()
      const [t1, t2] = createMemoryPair()
      const [t3, t4] = createMemoryPair()
      peers.push(createPeer(t1, { trace: off.trace }), createPeer(t2), createPeer(t3, { trace: on.trace, heartbeat: true }), createPeer(t4))
      await Promise.all(peers.map((peer) => peer.ready))
      clock!.tick(60_000)
      expect(off.pingsSent()).to.equal(0)
      expect(on.pingsSent()).to.be.at.least(1)
    })
  })

  describe('options', () => {
    const bad: [unknown, RegExp][] = [
      ['yes', /options\.heartbeat must be true, false or an object/],
      [null, /options\.heartbeat must be/],
      [[], /options\.heartbeat must be/],
      [{ interval: 0 }, /options\.heartbeat\.interval must be a positive number of ms/],
      [{ interval: -5 }, /options\.heartbeat\.interval/],
      [{ interval: Number.NaN }, /options\.heartbeat\.interval/],
      [{ interval: Infinity }, /options\.heartbeat\.interval/],
      [{ timeout: '10' }, /options\.heartbeat\.timeout must be a positive number of ms/],
      [{ interval: 100, timeout: 50 }, /options\.heartbeat\.timeout must be at least options\.heartbeat\.interval \(100 ms\), got a number 50/],
    ]
    for (const [value, message] of bad) {
      it(`refuses heartbeat: ${inspect(value)} with RPC_INVALID_ARGUMENT`, () => {
        const [transport] = createMemoryPair()
        let error: unknown
        try {
          createPeer(transport, { heartbeat: value as never })
        } catch (caught) {
          error = caught
        }
        expect(error).to.be.instanceOf(RpcError)
        expect((error as RpcError).code).to.equal(ErrorCode.InvalidArgument)
        expect((error as Error).message).to.match(message)
      })
    }

    it('accepts one of interval and timeout, deriving the other', async () => {
      const trace = tracer()
      // timeout 60 alone: interval 30.
      const { left, right } = pair({ heartbeat: { timeout: 60 }, trace: trace.trace })
      await Promise.all([left.ready, right.ready])
      await sleep(200)
      expect(trace.pingsSent()).to.be.at.least(2)
      expect(left.state).to.equal('open')
    })
  })
})
