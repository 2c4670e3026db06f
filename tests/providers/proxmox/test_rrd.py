"""The RRD parser, on rows shaped as the API reference documents ``GET .../rrddata``.

fakepve answers ``rrddata`` with the schema's shape but no rows, so these recorded shapes are what
the parser is held to: one row per step with ``time`` and the averaged fields, ``cpu`` a share of
``maxcpu``; rows of a stretch without data carry only ``time``.
"""

from datetime import UTC, datetime

from providers.proxmox import rrd

# /nodes/{node}/qemu/{vmid}/rrddata?timeframe=hour&cf=AVERAGE, four 60 s steps (the last without data)
HOUR = [
    {"time": 1796036400, "cpu": 0.25, "maxcpu": 2, "mem": 1073741824.0, "maxmem": 4294967296,
     "netin": 1200.5, "netout": 300.25, "diskread": 0, "diskwrite": 4096.0, "disk": 0, "maxdisk": 34359738368},
    {"time": 1796036460, "cpu": 0.5, "maxcpu": 2, "mem": 1073741824.0, "maxmem": 4294967296,
     "netin": 1000, "netout": 200, "diskread": 512, "diskwrite": 0, "disk": 0, "maxdisk": 34359738368},
    {"time": 1796036520, "cpu": 1.0, "maxcpu": 2, "mem": 2147483648.0, "maxmem": 4294967296,
     "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0, "disk": 0, "maxdisk": 34359738368},
    {"time": 1796036580},
]


def at(epoch):
    return datetime.fromtimestamp(epoch, UTC)


def test_rows_parse_oldest_first_and_bad_rows_drop():
    rows = rrd.parse([HOUR[2], "garbage", {"cpu": 1}, {"time": "x"}, HOUR[0], HOUR[1], HOUR[3]])
    assert [r.time for r in rows] == [at(1796036400), at(1796036460), at(1796036520), at(1796036580)]
    assert rows[0].cpu == 0.25 and rows[0].maxcpu == 2 and rows[0].netin == 1200.5
    assert rows[3].cpu is None
    assert rrd.parse({"not": "a list"}) == [] and rrd.parse([{}]) == []


def test_step_is_the_gap_between_rows_or_the_timeframes():
    assert rrd.step_of(rrd.parse(HOUR)) == 60
    assert rrd.step_of([], "day") == 1800


def test_cpu_seconds_sum_share_times_cpus_times_step():
    rows = rrd.parse(HOUR)
    # 0.25*2*60 + 0.5*2*60 + 1.0*2*60
    assert rrd.cpu_seconds(rows, at(1796036340), at(1796036600), 60) == 30 + 60 + 120
    assert rrd.cpu_seconds(rows, at(1796036400), at(1796036600), 60) == 60 + 120  # (since, until]
    assert rrd.cpu_seconds(rows[3:], at(0), at(1796036600), 60) is None


def test_hourly_counter_restarts_at_the_hour_or_the_guest_start():
    rows = rrd.parse(HOUR)
    now = at(1796036590)  # 11:09:50, the rows lie in the hour from 11:00
    epoch = now.replace(minute=0, second=0)
    assert rrd.hourly_cpu_counter(rows, now, None, 60) == int(rrd.cpu_seconds(rows, epoch, now, 60) * 1e9)
    assert rrd.hourly_cpu_counter(rows, now, at(1796036460), 60) == 120 * 10 ** 9
    assert rrd.hourly_cpu_counter([], now, None, 60) is None
