// Command quickstart is the README's five-minute tour: it sends ten messages
// to a gorocket (or RocketMQ) cluster with the official RocketMQ Go client,
// rocketmq-client-go v2.1.2, and consumes them back with a push consumer.
//
//	go run ./cmd/gorocket standalone     # in one terminal
//	go run ./examples/quickstart         # in another
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	namesrv := flag.String("namesrv", "127.0.0.1:9876", "NameServer address")
	topic := flag.String("topic", "QuickStart", "topic (created on first send)")
	flag.Parse()
	rlog.SetLogLevel("warn")
	resolver := primitive.NewPassthroughResolver([]string{*namesrv})

	p, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithGroupName("quickstart-producer"))
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Start(); err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown()
	for i := 0; i < 10; i++ {
		msg := primitive.NewMessage(*topic, []byte(fmt.Sprintf("hello gorocket %d", i)))
		msg.WithTag("TagA")
		msg.WithKeys([]string{fmt.Sprintf("order-%d", i)})
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("sent %s to queue %d at offset %d\n", res.MsgID, res.MessageQueue.QueueId, res.QueueOffset)
	}

	var received atomic.Int32
	c, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithGroupName("quickstart-consumer"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		log.Fatal(err)
	}
	err = c.Subscribe(*topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				fmt.Printf("received %q (keys %s)\n", m.Body, m.GetKeys())
				received.Add(1)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(); err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown()
	for deadline := time.Now().Add(30 * time.Second); received.Load() < 10 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("%d messages received\n", received.Load())
}
