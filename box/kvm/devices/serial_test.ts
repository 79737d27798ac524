import { assertEquals } from "@a3s/common/testing";
import { Serial16550 } from "./serial.ts";

function uart() {
  const output: number[] = [];
  let interrupts = 0;
  const serial = new Serial16550({
    onOutput: (bytes) => output.push(...bytes),
    interrupt: () => interrupts++,
  });
  return { serial, output, interrupts: () => interrupts };
}

Deno.test("16550: transmit, line status, divisor latch and scratch", () => {
  const { serial, output } = uart();
  assertEquals(serial.ioRead(5) & 0x60, 0x60, "transmitter empty");
  serial.ioWrite(0, 1, 0x41);
  assertEquals(output, [0x41]);
  serial.ioWrite(3, 1, 0x83); // DLAB on
  serial.ioWrite(0, 1, 0x01); // divisor 1: 115200 baud
  serial.ioWrite(1, 1, 0x00);
  serial.ioWrite(3, 1, 0x03); // DLAB off, 8N1
  assertEquals(serial.divisor, 1);
  assertEquals(output, [0x41], "divisor writes are not output");
  serial.ioWrite(7, 1, 0x5a);
  assertEquals(serial.ioRead(7), 0x5a);
});

Deno.test("16550: receive FIFO, data-ready and the interrupt identification", () => {
  const { serial, interrupts } = uart();
  assertEquals(serial.ioRead(2) & 0x0f, 0x01, "no interrupt pending");
  serial.ioWrite(1, 1, 0x01); // receive interrupt on
  serial.input(new TextEncoder().encode("hi"));
  assertEquals(interrupts(), 1);
  assertEquals(serial.ioRead(5) & 1, 1, "data ready");
  assertEquals(serial.ioRead(2) & 0x0f, 0x04, "received data available");
  assertEquals([serial.ioRead(0), serial.ioRead(0)], [0x68, 0x69]);
  assertEquals(serial.ioRead(5) & 1, 0);
  serial.ioWrite(1, 1, 0x03); // transmitter-empty interrupt on: fires at once
  assertEquals(interrupts(), 2);
  assertEquals(serial.ioRead(2) & 0x0f, 0x02);
  assertEquals(serial.ioRead(2) & 0x0f, 0x01, "reading IIR cleared it");
});

Deno.test("16550: loopback returns what the guest sends", () => {
  const { serial, output } = uart();
  serial.ioWrite(4, 1, 0x10);
  serial.ioWrite(0, 1, 0x7e);
  assertEquals(output, []);
  assertEquals(serial.ioRead(0), 0x7e);
});
