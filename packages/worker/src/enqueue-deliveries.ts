import type { Logger } from "@subgate/core";
import type { JobProducer } from "@subgate/queue";
import type { DueDelivery } from "@subgate/subscriptions";

/**
 * Enqueues deliveries after their transaction committed. A failure is logged, not thrown: the rows
 * are in PostgreSQL and the sweeper enqueues any due delivery that has no job.
 */
export async function enqueueDeliveries(producer: JobProducer, deliveries: DueDelivery[], logger: Logger): Promise<void> {
  const now = Date.now();
  const results = await Promise.allSettled(
    deliveries.map((delivery) =>
      producer.enqueue(
        "delivery.send",
        { deliveryId: delivery.id },
        { jobId: delivery.id, delayMs: delivery.nextAttemptAt.getTime() - now },
      ),
    ),
  );
  const failed = results.filter((result) => result.status === "rejected").length;
  if (failed > 0) logger.warn({ failed }, "could not enqueue deliveries; the sweeper will");
}
