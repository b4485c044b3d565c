import { expect } from 'chai'
import sinon from 'sinon'
import { BusyError, callContext, CancelledError, ChannelClosedError, createMemoryPair, createPeer, ErrorCode, TimeoutError, type Transport } from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks, track } from './helpers.js'

/** A handler that reports its signal when it starts and holds until released (it ignores its signal). */
function holding() {
  const release = deferred<unknown>()
  const started = deferred<AbortSignal>()
  const handler = (): Promise<unknown> => {
    started.resolve(callContext().signal)
    return release.promise
  }
  return { handler, release, started: started.promise }
}

function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason)
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  })
}

/** A left peer over end A whose other side does not exist yet: end B holds what it receives. */
function lonelyLeft(options = {}) {
  const [a, b] = createMemoryPair()
  b.pause()
  const left = track(createPeer(a, options))
  return { left, b }
}

describe('lifecycle', () => {
  it('resolves ready on both sides and goes from connecting to open', async () => {
    const { left, right } = pair()
    expect(left.state).to.equal('connecting')
    expect(right.state).to.equal('connecting')
    await Promise.all([left.ready, right.ready])
    expect(left.state).to.equal('open')
    expect(right.state).to.equal('open')
  })

  it('goes connecting, open, closed, and fires open and close exactly once on each side', async () => {
    const { left, right } = pair()
    const events: string[] = []
    for (const [side, peer] of [['left', left], ['right', right]] as const) {
      peer.on('open', () => events.push(`${side} open ${peer.state}`))
      peer.on('close', () => events.push(`${side} close ${peer.state}`))
    }
    await Promise.all([left.ready, right.ready])
    await ticks(3)
    left.close()
    expect(left.state).to.equal('closed')
    await ticks(3)
    left.close()
    right.close()
    await ticks(3)
    expect(right.state).to.equal('closed')
    expect(events.sort()).to.deep.equal(['left close closed', 'left open open', 'right close closed', 'right open open'])
  })

  it('holds calls, notifications and events made before the other side exists, and delivers them in order once it connects', async () => {
    const { left, b } = lonelyLeft()
    const order: unknown[] = []
    const first = left.call('record', ['call 1'])
    left.notify('record', 'notify 2')
    left.emit('event', 'event 3')
    const last = left.remote.record('call 4')
    await ticks(5)
    expect(left.state).to.equal('connecting')
    expect(left.stats.pending).to.equal(2)
    const right = track(createPeer(b, { expose: { record: (x: unknown) => (order.push(x), x) } }))
    right.on('event', (x) => order.push(x))
    b.resume()
    expect(await first).to.equal('call 1')
    expect(await last).to.equal('call 4')
    expect(order).to.deep.equal(['call 1', 'notify 2', 'event 3', 'call 4'])
    expect(left.state).to.equal('open')
  })

  it('does not send a held call that timed out or was cancelled before the other side connected', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    try {
      const { left, b } = lonelyLeft({ timeout: 100 })
      const timedOut = left.call('work', ['timed out'])
      const timeoutFailure = rejection(timedOut)
      const cancelled = left.call('work', ['cancelled'], { timeout: 0 })
      const cancelFailure = rejection(cancelled)
      const kept = left.call('work', ['kept'], { timeout: 0 })
      clock.tick(100)
      cancelled.cancel()
      expect(await timeoutFailure).to.be.instanceOf(TimeoutError)
      expect(await cancelFailure).to.be.instanceOf(CancelledError)
      expect(clock.countTimers()).to.equal(0)
      const work = sinon.spy((x: string) => x)
      const right = track(createPeer(b, { expose: { work } }))
      b.resume()
      expect(await kept).to.equal('kept')
      await ticks(3)
      expect(work.args).to.deep.equal([['kept']])
      expect(right.stats.dropped).to.equal(0)
      expect(left.stats.pending).to.equal(0)
    } finally {
      clock.restore()
    }
  })

  it('bounds what it holds before the handshake by maxPending', async () => {
    const { left } = lonelyLeft({ maxPending: 2 })
    left.notify('a')
    left.emit('b')
    expect(() => left.notify('c')).to.throw(BusyError)
    expect(() => left.emit('d')).to.throw(BusyError)
    const error = await rejection(left.call('e'))
    expect(error).to.be.instanceOf(BusyError)
    expect(left.stats.pending).to.equal(0)
    left.close()
  })

  it('rejects ready with ChannelClosedError, and the held calls too, when closed before open', async () => {
    const { left } = lonelyLeft()
    const held = left.call('never')
    const failure = rejection(held)
    const opened = sinon.spy()
    const closed = sinon.spy()
    left.on('open', opened)
    left.on('close', closed)
    left.close()
    expect(left.state).to.equal('closed')
    const error = await rejection(left.ready)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
    expect(await failure).to.be.instanceOf(ChannelClosedError)
    expect(opened.called).to.equal(false)
    expect(closed.callCount).to.equal(1)
  })

  it('rejects pending calls on both sides at once with ChannelClosedError when one side closes', async () => {
    const toRight = holding()
    const toLeft = holding()
    const { left, right } = pair({ expose: { hold: toLeft.handler } }, { expose: { hold: toRight.handler } })
    const leftCall = left.call('hold')
    const rightCall = right.call('hold')
    const leftFailure = rejection(leftCall)
    const rightFailure = rejection(rightCall)
    const [rightSignal, leftSignal] = await Promise.all([toRight.started, toLeft.started])
    left.close()
    // This side's pending calls fail synchronously.
    expect(leftCall.state).to.equal('rejected')
    expect(left.stats.pending).to.equal(0)
    const leftError = await leftFailure
    expect(leftError).to.be.instanceOf(ChannelClosedError)
    expect(leftError.code).to.equal(ErrorCode.ChannelClosed)
    // The other side is told, and fails its own pending calls.
    const rightError = await rightFailure
    expect(rightError).to.be.instanceOf(ChannelClosedError)
    expect(rightError.code).to.equal('RPC_CHANNEL_CLOSED')
    expect(right.state).to.equal('closed')
    // Handlers still running on both sides see their signal aborted.
    expect(await aborted(leftSignal)).to.be.instanceOf(ChannelClosedError)
    expect(await aborted(rightSignal)).to.be.instanceOf(ChannelClosedError)
    toLeft.release.resolve('late')
    toRight.release.resolve('late')
  })

  it('is idempotent: close() twice fires close once and changes nothing', async () => {
    const { left, right } = pair()
    await left.ready
    const closes = sinon.spy()
    left.on('close', closes)
    left.close()
    const sent = left.stats.sent
    left.close()
    left.close()
    await ticks(3)
    expect(closes.callCount).to.equal(1)
    expect(closes.firstCall.args[0]).to.include({ local: true })
    expect(left.stats.sent).to.equal(sent)
    expect(right.state).to.equal('closed')
  })

  it('tells the other side why it closed, as a non-local close', async () => {
    const { left, right } = pair()
    await Promise.all([left.ready, right.ready])
    const closed = deferred<any>()
    right.on('close', closed.resolve)
    left.close()
    const info = await closed.promise
    expect(info.local).to.not.equal(true)
    expect(info.reason).to.be.a('string')
  })

  it('rejects calls made after close immediately with ChannelClosedError', async () => {
    const { left } = pair({}, { expose: { echo: (x: unknown) => x } })
    await left.ready
    left.close()
    const call = left.call('echo', [1])
    expect(call.state).to.equal('rejected')
    const error = await rejection(call)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
    expect(await rejection(left.remote.echo(2))).to.be.instanceOf(ChannelClosedError)
    expect(left.stats.pending).to.equal(0)
  })

  it('rejects calls on the side that was closed by the other', async () => {
    const { left, right } = pair({}, { expose: { echo: (x: unknown) => x } })
    await Promise.all([left.ready, right.ready])
    const closed = deferred<void>()
    left.on('close', () => closed.resolve())
    right.close()
    await closed.promise
    expect(await rejection(left.call('echo', [1]))).to.be.instanceOf(ChannelClosedError)
  })

  it('throws ChannelClosedError from notify() and emit() after close', async () => {
    const { left } = pair()
    left.close()
    expect(() => left.notify('x', 1)).to.throw(ChannelClosedError)
    expect(() => left.emit('x', 1)).to.throw(ChannelClosedError)
    try {
      left.notify('x')
    } catch (error: any) {
      expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
    }
  })

  it('aborts a running handler\'s signal when its own side closes, and does not send its late result', async () => {
    const slow = holding()
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    const failure = rejection(left.call('slow'))
    const signal = await slow.started
    right.close()
    expect(signal.aborted).to.equal(true)
    expect(signal.reason).to.be.instanceOf(ChannelClosedError)
    expect(await failure).to.be.instanceOf(ChannelClosedError)
    const sent = right.stats.sent
    slow.release.resolve('late')
    await ticks(3)
    expect(right.stats.sent).to.equal(sent)
    expect(right.stats.active).to.equal(0)
  })

  it('aborts a running handler\'s signal when the other side closes, and does not send its late result', async () => {
    const slow = holding()
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    const failure = rejection(left.call('slow'))
    const signal = await slow.started
    left.close()
    await failure
    expect(await aborted(signal)).to.be.instanceOf(ChannelClosedError)
    expect(right.state).to.equal('closed')
    const sent = right.stats.sent
    slow.release.resolve('late')
    await ticks(3)
    expect(right.stats.sent).to.equal(sent)
  })

  it('never runs handlers that were still queued when the channel closed', async () => {
    const slow = holding()
    const queued = sinon.spy()
    const { left, right } = pair({}, { concurrency: 1, expose: { slow: slow.handler, queued } })
    const failures = [rejection(left.call('slow')), rejection(left.call('queued'))]
    await slow.started
    await tick()
    expect(right.stats.queued).to.equal(1)
    right.close()
    expect(right.stats.queued).to.equal(0)
    for (const error of await Promise.all(failures)) expect(error).to.be.instanceOf(ChannelClosedError)
    slow.release.resolve(undefined)
    await ticks(3)
    expect(queued.called).to.equal(false)
    expect(right.stats.active).to.equal(0)
  })

  it('drops messages that a transport still delivers after close', async () => {
    // A transport that keeps delivering after close, as a slow channel might.
    let deliver: (message: unknown) => void = () => {}
    const sent: unknown[] = []
    const transport: Transport = {
      send: (message) => void sent.push(message),
      onMessage: (listener) => void (deliver = listener),
      onClose: () => {},
      close: () => {},
    }
    const work = sinon.spy()
    const right = track(createPeer(transport, { expose: { work } }))
    deliver({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await right.ready
    right.close()
    const received = right.stats.received
    const sentCount = sent.length
    deliver({ jsonrpc: '2.0', id: 1, method: 'work' })
    deliver({ jsonrpc: '2.0', method: 'work' })
    deliver({ jsonrpc: '2.0', method: 'rpc.event', params: ['x'] })
    deliver({ jsonrpc: '2.0', id: 2, result: 1 })
    await ticks(3)
    expect(work.called).to.equal(false)
    expect(right.stats.received).to.equal(received)
    expect(sent.length).to.equal(sentCount)
  })

  it('tells the other side with an rpc.close message before closing the transport', async () => {
    const [a, b] = createMemoryPair()
    const inbox: any[] = []
    a.onMessage((message) => inbox.push(message))
    const peer = track(createPeer(b))
    a.send({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await peer.ready
    peer.close()
    await ticks(2)
    expect(inbox.filter((m) => m.method !== 'rpc.hello')).to.deep.equal([{ jsonrpc: '2.0', method: 'rpc.close' }])
  })

  it('closes, rejecting its pending calls, when the other side sends rpc.close over a channel that stays up', async () => {
    let deliver: (message: unknown) => void = () => {}
    const transport: Transport = {
      send: () => {},
      onMessage: (listener) => void (deliver = listener),
      onClose: () => {},
      close: () => {},
    }
    const peer = track(createPeer(transport))
    deliver({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await peer.ready
    const closes = sinon.spy()
    peer.on('close', closes)
    const failure = rejection(peer.call('pending'))
    deliver({ jsonrpc: '2.0', method: 'rpc.close' })
    expect(peer.state).to.equal('closed')
    const error = await failure
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(closes.callCount).to.equal(1)
    expect(closes.firstCall.args[0].local).to.not.equal(true)
  })
})

describe('memory pair', () => {
  it('holds messages until a listener is set, as a MessagePort does before start()', async () => {
    const [a, b] = createMemoryPair()
    a.onMessage(() => {})
    a.onClose(() => {})
    a.send({ n: 1 })
    a.send({ n: 2 })
    await new Promise((resolve) => setImmediate(resolve))
    const received: unknown[] = []
    b.onMessage((message) => received.push(message))
    b.onClose(() => {})
    await new Promise((resolve) => setImmediate(resolve))
    expect(received).to.deep.equal([{ n: 1 }, { n: 2 }])
    a.close()
  })
})
