import { expect } from 'chai'
import sinon from 'sinon'
import { callContext, CancelledError, createMemoryPair, createPeer, ErrorCode, RpcError, TimeoutError } from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks, track } from './helpers.js'

/** A handler that holds until the test releases it, or until its call is abandoned (signal aborted). */
function holding() {
  const release = deferred<unknown>()
  const started = deferred<AbortSignal>()
  const handler = (): Promise<unknown> => {
    const { signal } = callContext()
    started.resolve(signal)
    return new Promise((resolve) => {
      signal.addEventListener('abort', () => resolve('aborted'), { once: true })
      void release.promise.then(resolve)
    })
  }
  return { handler, release, started: started.promise }
}

/** Resolves when `signal` is aborted. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason)
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  })
}

describe('timeouts', () => {
  let clock: sinon.SinonFakeTimers

  beforeEach(() => {
    // setImmediate stays real: the memory pair delivers with it.
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })

  afterEach(() => {
    clock.restore()
  })

  it('rejects a call with TimeoutError after the default timeout, naming the path and the timeout', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 1000 }, { expose: { slow: { op: slow.handler } } })
    const call = left.call('slow.op')
    const failure = rejection(call)
    await slow.started
    clock.tick(999)
    expect(call.state).to.equal('pending')
    clock.tick(1)
    expect(call.state).to.equal('timed out')
    const error = await failure
    expect(error).to.be.instanceOf(TimeoutError)
    expect(error).to.be.instanceOf(RpcError)
    expect(error.code).to.equal(ErrorCode.Timeout)
    expect(error.code).to.equal('RPC_TIMEOUT')
    expect(error.path).to.equal('slow.op')
    expect(error.timeout).to.equal(1000)
    expect(error.message).to.contain('slow.op').and.to.contain('1000')
  })

  it('uses a per-call timeout over the default, shorter or longer', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 1000 }, { expose: { slow: slow.handler } })
    const short = left.call('slow', [], { timeout: 50 })
    const long = left.call('slow', [], { timeout: 5000 })
    const shortFailure = rejection(short)
    const longFailure = rejection(long)
    await slow.started
    clock.tick(50)
    expect(short.state).to.equal('timed out')
    expect((await shortFailure).message).to.contain('50')
    clock.tick(1000)
    expect(long.state).to.equal('pending')
    clock.tick(3950)
    expect(long.state).to.equal('timed out')
    const error = await longFailure
    expect(error).to.be.instanceOf(TimeoutError)
    expect(error.timeout).to.equal(5000)
  })

  it('rejects a call through the remote proxy with TimeoutError too', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 200 }, { expose: { slow: slow.handler } })
    const failure = rejection(left.remote.slow())
    await slow.started
    clock.tick(200)
    expect(await failure).to.be.instanceOf(TimeoutError)
  })

  it('treats a timeout of 0 as none, per peer and per call', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 0 }, { expose: { slow: slow.handler } })
    const byDefault = left.call('slow')
    const perCall = left.call('slow', [], { timeout: 0 })
    expect(clock.countTimers()).to.equal(0)
    await slow.started
    clock.tick(365 * 24 * 3600 * 1000)
    expect(byDefault.state).to.equal('pending')
    expect(perCall.state).to.equal('pending')
    slow.release.resolve('done')
    expect(await byDefault).to.equal('done')
    expect(await perCall).to.equal('done')
  })

  it('lets a per-call timeout of 0 override a default timeout', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 100 }, { expose: { slow: slow.handler } })
    const call = left.call('slow', [], { timeout: 0 })
    expect(clock.countTimers()).to.equal(0)
    await slow.started
    clock.tick(10_000)
    expect(call.state).to.equal('pending')
    slow.release.resolve(7)
    expect(await call).to.equal(7)
  })

  it('leaves no timer and no pending entry once a call has timed out', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 100 }, { expose: { slow: slow.handler } })
    const failure = rejection(left.call('slow'))
    expect(clock.countTimers()).to.equal(1)
    expect(left.stats.pending).to.equal(1)
    clock.tick(100)
    expect(left.stats.pending).to.equal(0)
    expect(clock.countTimers()).to.equal(0)
    expect(await failure).to.be.instanceOf(TimeoutError)
    expect(clock.countTimers()).to.equal(0)
  })

  it('lets no timer fire for a call that settled before its timeout', async () => {
    const { left } = pair({ timeout: 100 }, { expose: { add: (a: number, b: number) => a + b, fail: () => { throw new Error('no') } } })
    const call = left.call('add', [1, 2])
    const failing = left.call('fail')
    const failure = rejection(failing)
    // One timer serves every pending call (lib/deadlines.ts), not one per call.
    expect(clock.countTimers()).to.equal(1)
    expect(await call).to.equal(3)
    await failure
    // The shared timer stays armed (sequential calls reuse it) and fires once, for nothing.
    expect(clock.countTimers()).to.be.at.most(1)
    clock.tick(1000)
    expect(call.state).to.equal('fulfilled')
    expect(failing.state).to.equal('rejected')
    expect(clock.countTimers()).to.equal(0)
  })

  it('drops a reply that arrives after the timeout, counts it, and never settles another call with it', async () => {
    const late = deferred<string>()
    const other = deferred<string>()
    const { left, leftTransport } = pair({ timeout: 0 }, { expose: { late: () => late.promise, other: () => other.promise } })
    await left.ready
    const first = left.call('late', [], { timeout: 100 })
    const firstFailure = rejection(first)
    const second = left.call('other')
    await tick()
    // Hold the replies to the caller so that the first one arrives after its timeout.
    leftTransport.pause()
    late.resolve('too late')
    await tick()
    clock.tick(100)
    expect(await firstFailure).to.be.instanceOf(TimeoutError)
    const dropped = left.stats.dropped
    leftTransport.resume()
    await tick()
    expect(left.stats.dropped).to.equal(dropped + 1)
    expect(second.state).to.equal('pending')
    other.resolve('own result')
    expect(await second).to.equal('own result')
    expect(first.state).to.equal('timed out')
  })

  it('drops a late reply sent from a raw end for a call that timed out', async () => {
    const [a, b] = createMemoryPair()
    const requests: any[] = []
    b.onMessage((message) => requests.push(message))
    const left = track(createPeer(a, { handshake: false, timeout: 100 }))
    const first = left.call('x')
    const firstFailure = rejection(first)
    const second = left.call('y', [], { timeout: 0 })
    await tick()
    expect(requests.map((r) => r.method)).to.deep.equal(['x', 'y'])
    clock.tick(100)
    expect(await firstFailure).to.be.instanceOf(TimeoutError)
    const dropped = left.stats.dropped
    b.send({ jsonrpc: '2.0', id: first.id, result: 'late' })
    b.send({ jsonrpc: '2.0', id: first.id, error: { code: -32000, message: 'late too' } })
    await tick()
    expect(left.stats.dropped).to.equal(dropped + 2)
    expect(second.state).to.equal('pending')
    b.send({ jsonrpc: '2.0', id: second.id, result: 'second' })
    expect(await second).to.equal('second')
  })

  it('sends a cancel on timeout, so the handler sees its signal aborted', async () => {
    const slow = holding()
    const { left, right } = pair({ timeout: 100 }, { expose: { slow: slow.handler } })
    const failure = rejection(left.call('slow'))
    const signal = await slow.started
    expect(signal.aborted).to.equal(false)
    clock.tick(100)
    await failure
    const reason: any = await aborted(signal)
    expect(signal.aborted).to.equal(true)
    expect(reason).to.be.instanceOf(RpcError)
    expect(reason.code).to.equal('RPC_CANCELLED')
    // The handler ended on abort: its slot is free and its reply was not sent.
    await tick()
    expect(right.stats.active).to.equal(0)
  })

  it('clears the timers of pending calls when the channel closes', async () => {
    const slow = holding()
    const { left } = pair({ timeout: 1000 }, { expose: { slow: slow.handler } })
    const failures = [rejection(left.call('slow')), rejection(left.call('slow')), rejection(left.call('slow', [], { timeout: 50 }))]
    await slow.started
    expect(clock.countTimers()).to.equal(1)
    left.close()
    expect(clock.countTimers()).to.equal(0)
    for (const error of await Promise.all(failures)) expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
  })

  it('leaves zero entries, handlers and timers after thousands of mixed outcomes', async () => {
    // One error thrown many times: formatting thousands of fresh stacks is slow, and not the point here.
    const failure = new Error('fail')
    const { left, right } = pair({ timeout: 1000 }, {
      concurrency: 8,
      maxQueue: 2000,
      expose: {
        ok: (x: number) => x,
        fail: () => {
          throw failure
        },
        // Ends only when its call is abandoned: by a cancel, or by the caller's timeout.
        hold: () => {
          const { signal } = callContext()
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }))
        },
      },
    })
    await left.ready
    const outcomes: Array<Promise<unknown>> = []
    for (let i = 0; i < 3000; i++) {
      switch (i % 6) {
        case 0:
          outcomes.push(left.call('ok', [i]))
          break
        case 1:
          outcomes.push(rejection(left.call('fail')))
          break
        case 2:
          outcomes.push(rejection(left.call('missing')))
          break
        case 3:
          outcomes.push(rejection(left.call('ok', [Symbol(String(i))])))
          break
        case 4: {
          const call = left.call('hold', [], { timeout: 0 })
          outcomes.push(rejection(call))
          call.cancel()
          break
        }
        default:
          outcomes.push(rejection(left.call('hold', [], { timeout: 500 })))
      }
    }
    // Let everything that can settle on its own do so, then let the held calls time out.
    await ticks(10)
    clock.tick(500)
    const settled = await Promise.all(outcomes)
    expect(settled.filter((value) => typeof value === 'number')).to.have.length(500)
    expect(settled.filter((value) => value instanceof TimeoutError)).to.have.length(500)
    expect(settled.filter((value) => value instanceof CancelledError)).to.have.length(500)
    // The cancels reach the receiver: held handlers end, queued ones are dropped.
    await ticks(5)
    expect(left.stats.pending).to.equal(0)
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
    // At most the shared timer, left armed, which then fires once for nothing.
    expect(clock.countTimers()).to.be.at.most(1)
    clock.tick(1000)
    expect(clock.countTimers()).to.equal(0)
  })
})

describe('timeout timers (real clock)', () => {
  it('never keep the process alive', async () => {
    const hold = deferred<void>()
    const { left } = pair({ timeout: 60_000 }, { expose: { hold: () => hold.promise } })
    await left.ready
    const count = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    const before = count()
    const call = left.call('hold')
    expect(count()).to.equal(before)
    hold.resolve()
    await call
  })
})
