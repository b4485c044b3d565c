import { expect } from 'chai'
import sinon from 'sinon'
import { Deadlines } from '../lib/deadlines.js'

describe('deadlines (one timer for many calls)', () => {
  let clock: sinon.SinonFakeTimers
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => clock.restore())

  /** A table of live ids, as the transaction manager keeps, with what expired. */
  function setup() {
    const live = new Set<number>()
    const expired: number[] = []
    const deadlines = new Deadlines(
      (id) => live.has(id),
      (id) => {
        expired.push(id)
        live.delete(id)
        deadlines.delete()
      },
    )
    const add = (id: number, timeout: number) => {
      live.add(id)
      deadlines.add(id, timeout)
    }
    const settle = (id: number) => {
      live.delete(id)
      deadlines.delete()
    }
    return { deadlines, expired, add, settle, live }
  }

  it('expires entries in deadline order across different timeouts, with one timer at a time', () => {
    const { deadlines, expired, add } = setup()
    add(1, 300)
    add(2, 100)
    clock.tick(50)
    add(3, 100)
    add(4, 300)
    expect(clock.countTimers()).to.equal(1)
    clock.tick(50) // t=100
    expect(expired).to.deep.equal([2])
    clock.tick(50) // t=150
    expect(expired).to.deep.equal([2, 3])
    clock.tick(150) // t=300
    expect(expired).to.deep.equal([2, 3, 1])
    clock.tick(50) // t=350
    expect(expired).to.deep.equal([2, 3, 1, 4])
    expect(deadlines.size).to.equal(0)
    expect(clock.countTimers()).to.equal(0)
  })

  it('never expires a settled entry; when the last one settles the timer stays armed, fires once for nothing, and clear() ends it', () => {
    const { deadlines, expired, add, settle } = setup()
    add(1, 100)
    add(2, 100)
    settle(1)
    expect(deadlines.size).to.equal(1)
    clock.tick(100)
    expect(expired).to.deep.equal([2])
    add(3, 100)
    settle(3)
    // Left armed, so that sequential calls do not clear and re-arm it once each.
    expect(clock.countTimers()).to.equal(1)
    add(4, 100) // reuses it: no second timer
    expect(clock.countTimers()).to.equal(1)
    settle(4)
    clock.tick(100)
    expect(expired).to.deep.equal([2])
    expect(clock.countTimers()).to.equal(0)
    add(5, 100)
    deadlines.clear()
    expect(clock.countTimers()).to.equal(0)
  })

  it('re-arms for an earlier deadline added later', () => {
    const { expired, add } = setup()
    add(1, 10_000)
    add(2, 10)
    clock.tick(10)
    expect(expired).to.deep.equal([2])
    expect(clock.countTimers()).to.equal(1)
  })

  it('keeps memory proportional to what is live while one old entry holds the head', () => {
    const { deadlines, add, settle } = setup()
    add(1, 1000) // never settles within the test: it holds the head of its queue
    for (let id = 2; id < 100_000; id++) {
      add(id, 1000)
      settle(id)
    }
    expect(deadlines.size).to.equal(1)
    expect(deadlines.stored).to.be.at.most(2 * deadlines.size + 1025)
  })
})
