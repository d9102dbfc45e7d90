CREATE TABLE `idempotency_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`request_hash` text NOT NULL,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`managed` integer DEFAULT false NOT NULL,
	`artifact_dir` text,
	`rootfs_path` text NOT NULL,
	`work_seed_path` text,
	`kernel_path` text NOT NULL,
	`initrd_path` text,
	`modules_dir` text,
	`packages_path` text,
	`packages_sha256` text,
	`build_size` text,
	`seeded_ssh_public_key_fingerprint` text,
	`docker` integer DEFAULT false NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_name_unique` ON `images` (`name`);--> statement-breakpoint
CREATE TABLE `job_events` (
	`job_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`at` text NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `job_events_job_seq` ON `job_events` (`job_id`,`seq`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`target_name` text,
	`stages` text NOT NULL,
	`progress` integer DEFAULT 0 NOT NULL,
	`result` text,
	`error` text,
	`log_path` text,
	`cancellable` integer NOT NULL,
	`processes` text NOT NULL,
	`scratch_paths` text NOT NULL,
	`created_at` text NOT NULL,
	`started_at` text,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `jobs_status` ON `jobs` (`status`);--> statement-breakpoint
CREATE INDEX `jobs_target` ON `jobs` (`target_type`,`target_id`);--> statement-breakpoint
CREATE INDEX `jobs_created_at` ON `jobs` (`created_at`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_one_active_per_target` ON `jobs` (`target_type`,`target_id`) WHERE status in ('queued', 'running');--> statement-breakpoint
CREATE TABLE `vms` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`image_id` text NOT NULL,
	`state` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `vms_name_unique` ON `vms` (`name`);--> statement-breakpoint
CREATE INDEX `vms_image_id` ON `vms` (`image_id`);