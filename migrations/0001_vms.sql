CREATE TABLE `vm_ports` (
	`vm_id` text NOT NULL,
	`guest_port` integer NOT NULL,
	`host_port` integer NOT NULL,
	`wait` integer NOT NULL,
	PRIMARY KEY(`vm_id`, `guest_port`),
	FOREIGN KEY (`vm_id`) REFERENCES `vms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `vm_ports_host_port_unique` ON `vm_ports` (`host_port`);--> statement-breakpoint
ALTER TABLE `vms` ADD `state_reason` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `state_message` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `state_changed_at` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `cpus` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `vms` ADD `memory_mib` integer DEFAULT 512 NOT NULL;--> statement-breakpoint
ALTER TABLE `vms` ADD `work_disk_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `vms` ADD `hypervisor` text DEFAULT 'qemu' NOT NULL;--> statement-breakpoint
ALTER TABLE `vms` ADD `accel` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `vm_dir` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `process` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `console_log` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `vms` ADD `ttl_seconds` integer;--> statement-breakpoint
ALTER TABLE `vms` ADD `expires_at` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `timings` text;--> statement-breakpoint
ALTER TABLE `vms` ADD `booted_at` text;--> statement-breakpoint
CREATE INDEX `vms_state` ON `vms` (`state`);--> statement-breakpoint
CREATE INDEX `vms_expires_at` ON `vms` (`expires_at`);