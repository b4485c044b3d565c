import { expect } from 'chai'
import { BusyError, callContext, ErrorCode, RpcError } from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks } from './helpers.js'

/** Handlers that record how many of them run at once. */
function meter() {
  let running = 0
  let max = 0
  const order: number[] = []
  const work = async (i: number): Promise<number> => {
    order.push(i)
    running++
    max = Math.max(max, running)
    await tick()
    await tick()
    running--
    return i
  }
  return { work, max: () => max, order }
}

describe('handler pool', () => {
  it('starts a long queue of synchronous handlers one after the other without nesting (no stack overflow)', async () => {
    const gate = deferred()
    let ran = 0
    const { left } = pair({}, { concurrency: 1, expose: { slow: () => gate.promise, quick: () => ++ran } })
    const slow = left.call('slow')
    await tick()
    const quick = Array.from({ length: 10_000 }, () => left.call('quick'))
    await ticks(2)
    gate.resolve()
    await slow
    const results = await Promise.all(quick)
    expect(ran).to.equal(10_000)
    expect(results[9_999]).to.equal(10_000)
  })

  it('runs handlers strictly one at a time with concurrency 1, in arrival order', async () => {
    const m = meter()
    const { left, right } = pair({}, { concurrency: 1, expose: { work: m.work } })
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => left.remote.work(i)))
    expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => i))
    expect(m.max()).to.equal(1)
    expect(m.order).to.deep.equal(results)
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
  })

  it('never runs more than concurrency N handlers at once', async () => {
    const m = meter()
    const { left, right } = pair({}, { concurrency: 3, expose: { work: m.work } })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => left.remote.work(i)))
    expect(results).to.have.length(50)
    expect(m.max()).to.equal(3)
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
  })

  it('reports running and queued handlers in stats while they wait', async () => {
    const gate = deferred<void>()
    const { left, right } = pair({}, { concurrency: 2, expose: { hold: () => gate.promise } })
    const calls = Array.from({ length: 5 }, () => left.call('hold'))
    await ticks(3)
    expect(right.stats.active).to.equal(2)
    expect(right.stats.queued).to.equal(3)
    expect(left.stats.pending).to.equal(5)
    gate.resolve()
    await Promise.all(calls)
    await tick()
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
    expect(left.stats.pending).to.equal(0)
  })

  it('rejects calls beyond maxQueue at the caller with BusyError while the others succeed', async () => {
    const gate = deferred<void>()
    let runs = 0
    const { left, right } = pair({}, {
      concurrency: 1,
      maxQueue: 2,
      expose: {
        hold: async (i: number) => {
          runs++
          await gate.promise
          return i
        },
      },
    })
    const calls = Array.from({ length: 6 }, (_, i) => left.call('hold', [i]))
    const outcomes = Promise.allSettled(calls)
    await ticks(3)
    expect(right.stats.active).to.equal(1)
    expect(right.stats.queued).to.equal(2)
    gate.resolve()
    const settled = await outcomes
    const fulfilled = settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<number>).value)
    const rejected = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason)
    expect(fulfilled).to.deep.equal([0, 1, 2])
    expect(rejected).to.have.length(3)
    for (const error of rejected) {
      expect(error).to.be.instanceOf(BusyError)
      expect(error).to.be.instanceOf(RpcError)
      expect(error.code).to.equal(ErrorCode.Busy)
      expect(error.code).to.equal('RPC_BUSY')
    }
    expect(runs).to.equal(3)
    await tick()
    expect(right.stats.active).to.equal(0)
    expect(right.stats.queued).to.equal(0)
    expect(left.stats.pending).to.equal(0)
  })

  it('takes calls again once the queue has room', async () => {
    const gate = deferred<void>()
    const { left } = pair({}, { concurrency: 1, maxQueue: 0, expose: { hold: () => gate.promise, echo: (x: unknown) => x } })
    const held = left.call('hold')
    await ticks(2)
    expect(await rejection(left.call('echo', [1]))).to.be.instanceOf(BusyError)
    gate.resolve()
    await held
    expect(await left.call('echo', [2])).to.equal(2)
  })

  it('emits an error on the receiver when a notification overflows the queue', async () => {
    const gate = deferred<void>()
    const logged: unknown[] = []
    const { left, right } = pair({}, { concurrency: 1, maxQueue: 0, expose: { hold: () => gate.promise, log: (x: unknown) => void logged.push(x) } })
    const errors: unknown[] = []
    right.on('error', (error) => errors.push(error))
    const held = left.call('hold')
    await ticks(2)
    const dropped = right.stats.dropped
    left.notify('log', 'lost')
    await ticks(2)
    expect(errors).to.have.length(1)
    expect(errors[0]).to.be.instanceOf(BusyError)
    expect((errors[0] as BusyError).message).to.contain('log')
    expect(right.stats.dropped).to.equal(dropped + 1)
    expect(logged).to.deep.equal([])
    gate.resolve()
    await held
    left.notify('log', 'kept')
    await ticks(2)
    expect(logged).to.deep.equal(['kept'])
  })

  it('queues notifications with calls and runs them in order under concurrency 1', async () => {
    const seen: unknown[] = []
    const gate = deferred<void>()
    const { left } = pair({}, {
      concurrency: 1,
      expose: {
        hold: async () => {
          seen.push('hold')
          await gate.promise
        },
        log: (x: unknown) => void seen.push(x),
      },
    })
    const held = left.call('hold')
    left.notify('log', 1)
    left.notify('log', 2)
    await ticks(3)
    expect(seen).to.deep.equal(['hold'])
    gate.resolve()
    await held
    await ticks(2)
    expect(seen).to.deep.equal(['hold', 1, 2])
  })

  it('rejects calls beyond the local maxPending bound with BusyError, without sending them', async () => {
    const gate = deferred<void>()
    const { left, right } = pair({ maxPending: 2 }, { expose: { hold: () => gate.promise } })
    await left.ready
    const first = left.call('hold')
    const second = left.call('hold')
    const sent = left.stats.sent
    const third = left.call('hold')
    expect(third.state).to.equal('rejected')
    const error = await rejection(third)
    expect(error).to.be.instanceOf(BusyError)
    expect(error.code).to.equal('RPC_BUSY')
    expect(error.message).to.contain('maxPending')
    expect(left.stats.sent).to.equal(sent)
    expect(left.stats.pending).to.equal(2)
    await ticks(2)
    expect(right.stats.active).to.equal(2)
    gate.resolve()
    await Promise.all([first, second])
    // Room again.
    await left.call('hold')
  })

  it('delivers replies to a peer whose only handler slot is busy waiting for them, so nested calls never deadlock', async () => {
    const { left, right } = pair({ concurrency: 1 }, { concurrency: 1, maxQueue: 0 })
    left.handle('leaf', (x: number) => x + 1)
    right.handle('middle', async (x: number) => (await right.call<number>('leaf', [x])) * 10)
    expect(await left.call('middle', [1])).to.equal(20)
  })

  it('delivers events and cancels to a peer whose handler pool and queue are full', async () => {
    const slow = deferred<void>()
    const started = deferred<AbortSignal>()
    const { left, right } = pair({}, {
      concurrency: 1,
      maxQueue: 0,
      expose: {
        hold: () => {
          started.resolve(callContext().signal)
          return slow.promise
        },
      },
    })
    const event = deferred<unknown>()
    right.on('ping', event.resolve)
    const call = left.call('hold')
    const failure = rejection(call)
    const signal = await started.promise
    left.emit('ping', 'through')
    expect(await event.promise).to.equal('through')
    call.cancel()
    await failure
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    slow.resolve()
  })
})
