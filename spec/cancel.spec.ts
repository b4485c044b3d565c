import { expect } from 'chai'
import sinon from 'sinon'
import { callContext, CancelledError, RpcError } from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks } from './helpers.js'

/**
 * A handler that reports its signal when it starts and holds until released. With `obey`, it also
 * ends as soon as its signal aborts; without, it keeps running like a handler that ignores its signal.
 */
function holding(obey = true) {
  const release = deferred<unknown>()
  const started = deferred<AbortSignal>()
  const aborted = deferred<unknown>()
  let runs = 0
  const handler = (): Promise<unknown> => {
    runs++
    const { signal } = callContext()
    started.resolve(signal)
    signal.addEventListener('abort', () => aborted.resolve(signal.reason), { once: true })
    return new Promise((resolve) => {
      if (obey) signal.addEventListener('abort', () => resolve('aborted'), { once: true })
      void release.promise.then(resolve)
    })
  }
  return { handler, release, started: started.promise, aborted: aborted.promise, runs: () => runs }
}

describe('cancellation', () => {
  it('rejects at once with CancelledError when call.cancel() is called', async () => {
    const slow = holding()
    const { left } = pair({}, { expose: { slow: slow.handler } })
    const call = left.call('slow')
    const failure = rejection(call)
    await slow.started
    call.cancel()
    expect(call.state).to.equal('cancelled')
    expect(left.stats.pending).to.equal(0)
    const error = await failure
    expect(error).to.be.instanceOf(CancelledError)
    expect(error).to.be.instanceOf(RpcError)
    expect(error.code).to.equal('RPC_CANCELLED')
    expect(error.message).to.contain('slow')
  })

  it('keeps the reason given to cancel() as the cause', async () => {
    const slow = holding()
    const { left } = pair({}, { expose: { slow: slow.handler } })
    const call = left.call('slow')
    const failure = rejection(call)
    call.cancel('user clicked stop')
    const error = await failure
    expect(error).to.be.instanceOf(CancelledError)
    expect(error.cause).to.equal('user clicked stop')
  })

  it('rejects at once with CancelledError when the AbortSignal aborts', async () => {
    const slow = holding()
    const { left } = pair({}, { expose: { slow: slow.handler } })
    const controller = new AbortController()
    const call = left.call('slow', [], { signal: controller.signal })
    const failure = rejection(call)
    await slow.started
    controller.abort()
    expect(call.state).to.equal('cancelled')
    expect(left.stats.pending).to.equal(0)
    const error = await failure
    expect(error).to.be.instanceOf(CancelledError)
    expect(error.code).to.equal('RPC_CANCELLED')
  })

  it('rejects a call whose signal is already aborted without sending anything', async () => {
    const slow = holding()
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    await Promise.all([left.ready, right.ready])
    await tick()
    const sent = left.stats.sent
    const received = right.stats.received
    const call = left.call('slow', [], { signal: AbortSignal.abort() })
    expect(call.state).to.equal('cancelled')
    expect(await rejection(call)).to.be.instanceOf(CancelledError)
    await ticks(3)
    expect(left.stats.sent).to.equal(sent)
    expect(right.stats.received).to.equal(received)
    expect(slow.runs()).to.equal(0)
    expect(left.stats.pending).to.equal(0)
  })

  it('aborts the remote handler\'s signal when the call is cancelled', async () => {
    const slow = holding()
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    const call = left.call('slow')
    const failure = rejection(call)
    const signal = await slow.started
    expect(signal.aborted).to.equal(false)
    call.cancel()
    await failure
    const reason: any = await slow.aborted
    expect(signal.aborted).to.equal(true)
    expect(reason).to.be.instanceOf(RpcError)
    expect(reason.code).to.equal('RPC_CANCELLED')
    await tick()
    expect(right.stats.active).to.equal(0)
  })

  it('aborts the remote handler\'s signal when the AbortSignal aborts', async () => {
    const slow = holding()
    const { left } = pair({}, { expose: { slow: slow.handler } })
    const controller = new AbortController()
    const failure = rejection(left.call('slow', [], { signal: controller.signal }))
    const signal = await slow.started
    controller.abort(new Error('stop'))
    const error = await failure
    expect(error).to.be.instanceOf(CancelledError)
    await slow.aborted
    expect(signal.aborted).to.equal(true)
  })

  it('does not send the reply of a cancelled handler', async () => {
    const slow = holding(false)
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    const call = left.call('slow')
    const failure = rejection(call)
    await slow.started
    call.cancel()
    await failure
    await slow.aborted
    const sent = right.stats.sent
    const dropped = left.stats.dropped
    slow.release.resolve('ignored')
    await ticks(3)
    expect(right.stats.sent).to.equal(sent)
    expect(left.stats.dropped).to.equal(dropped)
  })

  it('never runs a call that is cancelled while queued on the receiver', async () => {
    const first = holding(false)
    const second = sinon.spy((x: number) => x)
    const { left, right } = pair({}, { concurrency: 1, expose: { first: first.handler, second } })
    const running = left.call('first')
    const queued = left.call('second', [1])
    const failure = rejection(queued)
    await first.started
    await tick()
    expect(right.stats.active).to.equal(1)
    expect(right.stats.queued).to.equal(1)
    queued.cancel()
    expect(await failure).to.be.instanceOf(CancelledError)
    await ticks(2)
    expect(right.stats.queued).to.equal(0)
    first.release.resolve('first done')
    expect(await running).to.equal('first done')
    await ticks(3)
    expect(second.called).to.equal(false)
    expect(right.stats.active).to.equal(0)
    // The slot it would have used still serves later calls.
    expect(await left.call('second', [2])).to.equal(2)
  })

  it('frees the receiver\'s handler slot only when the handler really ends', async () => {
    const stubborn = holding(false)
    const next = sinon.spy(() => 'next ran')
    const { left, right } = pair({}, { concurrency: 1, expose: { stubborn: stubborn.handler, next } })
    const call = left.call('stubborn')
    const failure = rejection(call)
    await stubborn.started
    const after = left.call('next')
    call.cancel()
    expect(await failure).to.be.instanceOf(CancelledError)
    await stubborn.aborted
    await ticks(3)
    // The caller's entry went at once; the receiver still runs the handler that ignores its signal.
    expect(left.stats.pending).to.equal(1)
    expect(right.stats.active).to.equal(1)
    expect(right.stats.queued).to.equal(1)
    expect(next.called).to.equal(false)
    stubborn.release.resolve('finally')
    expect(await after).to.equal('next ran')
    await tick()
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
  })

  it('does nothing when cancelled or aborted after the call settled', async () => {
    const { left, right } = pair({}, { expose: { echo: (x: unknown) => x } })
    const controller = new AbortController()
    const call = left.call('echo', ['v'], { signal: controller.signal })
    expect(await call).to.equal('v')
    await tick()
    const sent = left.stats.sent
    const received = right.stats.received
    call.cancel()
    controller.abort()
    await ticks(2)
    expect(call.state).to.equal('fulfilled')
    expect(left.stats.sent).to.equal(sent)
    expect(right.stats.received).to.equal(received)
  })

  it('settles a call once, whichever of cancel, abort and reply comes first', async () => {
    const slow = holding()
    const { left } = pair({}, { expose: { slow: slow.handler } })
    const controller = new AbortController()
    const call = left.call('slow', [], { signal: controller.signal })
    const failure = rejection(call)
    await slow.started
    call.cancel('first')
    controller.abort('second')
    call.cancel('third')
    const error = await failure
    expect(error.cause).to.equal('first')
    expect(call.state).to.equal('cancelled')
  })

  it('issues no MaxListenersExceededWarning for 1,000 concurrent calls sharing one AbortSignal', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`)
    process.on('warning', onWarning)
    try {
      const { left } = pair({}, { expose: { echo: (x: unknown) => x } })
      const controller = new AbortController()
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => left.call('echo', [i], { signal: controller.signal })))
      expect(results).to.have.length(1000)
      await ticks(2)
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).to.deep.equal([])
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('cancels every call sharing one AbortSignal when it aborts', async () => {
    const slow = holding()
    const { left, right } = pair({}, { expose: { slow: slow.handler } })
    const controller = new AbortController()
    const calls = Array.from({ length: 5 }, () => left.call('slow', [], { signal: controller.signal }))
    const failures = calls.map((call) => rejection(call))
    await slow.started
    await tick()
    expect(right.stats.active).to.equal(5)
    controller.abort()
    for (const error of await Promise.all(failures)) expect(error).to.be.instanceOf(CancelledError)
    expect(left.stats.pending).to.equal(0)
    await ticks(3)
    expect(right.stats.active).to.equal(0)
  })
})
