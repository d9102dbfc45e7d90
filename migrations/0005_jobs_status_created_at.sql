DROP INDEX `jobs_status`;--> statement-breakpoint
CREATE INDEX `jobs_status_created_at` ON `jobs` (`status`,`created_at`,`id`);