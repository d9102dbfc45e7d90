CREATE TABLE `snapshots` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`source_vm_id` text,
	`source_vm_name` text NOT NULL,
	`image_id` text NOT NULL,
	`base_snapshot_id` text,
	`purpose` text NOT NULL,
	`state` text NOT NULL,
	`state_message` text,
	`dir` text NOT NULL,
	`artifacts` text,
	`cpus` integer NOT NULL,
	`memory_mib` integer NOT NULL,
	`work_disk_bytes` integer NOT NULL,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`base_snapshot_id`) REFERENCES `snapshots`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `snapshots_name_unique` ON `snapshots` (`name`);--> statement-breakpoint
CREATE INDEX `snapshots_image_id` ON `snapshots` (`image_id`);--> statement-breakpoint
CREATE INDEX `snapshots_base` ON `snapshots` (`base_snapshot_id`);--> statement-breakpoint
ALTER TABLE `images` ADD `warm_snapshot_id` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `disks` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `memory_file` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `base_snapshot_id` text REFERENCES snapshots(id);--> statement-breakpoint
ALTER TABLE `vms` ADD `boot_mode` text;--> statement-breakpoint
CREATE INDEX `vms_base_snapshot` ON `vms` (`base_snapshot_id`);