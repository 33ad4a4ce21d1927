/*
 * PortholeNullChecks.java - the JVM workload of tests/e2e/crash_jvm.sh
 * and its cost figure: a loop whose null pointer exceptions HotSpot's JIT
 * turns into implicit null checks, a SIGSEGV caught by the JVM's own
 * handler (until the JIT recompiles with explicit checks).  Prints
 * "ready PID", then, after ROUNDS rounds of N calls, "npes COUNT sum SUM
 * spins X ms MILLIS" (all but MILLIS the same whatever runs it), then waits
 * for the file DONE to exist (when given), or is killed.  Two threads spin
 * meanwhile and the main one calls System.gc() 10 x ROUNDS times: every
 * safepoint stops them through the page HotSpot protects, a SIGSEGV each.
 *
 * usage: java PortholeNullChecks [ROUNDS [N [DONE]]]
 */
public class PortholeNullChecks {
	static final class Box {
		int v;

		Box(int v) {
			this.v = v;
		}
	}

	static int get(Box b) {
		return b.v;	/* b null: an implicit null check, a SIGSEGV */
	}

	public static void main(String[] args) throws Exception {
		int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
		int n = args.length > 1 ? Integer.parseInt(args[1]) : 100000;
		Box one = new Box(1);
		long npes = 0, sum = 0;

		System.out.println("ready " + ProcessHandle.current().pid());
		System.out.flush();
		long t0 = System.nanoTime();
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < n; i++) {
				try {
					sum += get((i & 1023) == 0 ? null : one);
				} catch (NullPointerException e) {
					npes++;
				}
			}
		}
		/* Safepoints: every running compiled thread polls a page the
		 * JVM protects to stop it, a SIGSEGV each. */
		final long[] spins = new long[2];
		Thread[] th = new Thread[2];
		for (int k = 0; k < 2; k++) {
			final int kk = k;
			th[k] = new Thread(() -> {
				long x = 0;
				for (long j = 0; j < 60000000L; j++)
					x += j ^ (x >>> 3);
				spins[kk] = x;
			});
			th[k].start();
		}
		for (int r = 0; r < rounds * 10; r++)
			System.gc();
		for (Thread x : th)
			x.join();
		long ms = (System.nanoTime() - t0) / 1000000;
		System.out.println("npes " + npes + " sum " + sum + " spins " + (spins[0] + spins[1]) + " ms " + ms);
		System.out.flush();
		while (args.length > 2 && !new java.io.File(args[2]).exists())
			Thread.sleep(100);
	}
}
